/**
 * The script of a model thread (model-threads.ts): opens one onnxruntime session and runs the calls
 * it is sent, one at a time, answering each with its output (the output's buffer moves to the caller)
 * or the error message. Runs in a worker_threads Worker, compiled to dist/.
 */
import { parentPort } from 'node:worker_threads';
import { openInline, type SessionHandle } from './session-handle';
import type { ModelThreadReply, ModelThreadRequest } from './model-threads';

const port = parentPort;
if (!port) throw new Error('model-thread.js runs in a worker thread (src/models/model-threads.ts)');

let session: SessionHandle | undefined;

async function handle(req: ModelThreadRequest): Promise<{ reply: ModelThreadReply; move?: ArrayBuffer }> {
  if (req.op === 'open') {
    session = await openInline(req.path, req.options);
    const { inputNames, outputNames, inputMetadata, outputMetadata } = session;
    return { reply: { io: { inputNames, outputNames, inputMetadata, outputMetadata } } };
  }
  if (!session) throw new Error('the model thread has no session open');
  const out = await session.run(req.feeds, req.output);
  const data = out.data;
  // The output is this thread's to give away: moving its buffer saves a copy of the whole tensor.
  const move =
    ArrayBuffer.isView(data) &&
    data.buffer instanceof ArrayBuffer &&
    data.byteLength === data.buffer.byteLength
      ? data.buffer
      : undefined;
  return { reply: { output: { type: out.type, dims: [...out.dims], data } }, ...(move ? { move } : {}) };
}

port.on('message', (req: ModelThreadRequest) => {
  handle(req).then(
    ({ reply, move }) => {
      try {
        port.postMessage(reply, move ? [move] : []);
      } catch {
        port.postMessage(reply); // a buffer onnxruntime does not let go of is copied instead
      }
    },
    (err: unknown) =>
      port.postMessage({ error: (err as Error).message ?? String(err) } satisfies ModelThreadReply),
  );
});
