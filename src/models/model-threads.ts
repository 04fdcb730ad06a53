/**
 * ONNX sessions on worker threads. onnxruntime-node runs a model synchronously on the thread that
 * calls it, so with sessions on the worker's own thread every model call stops the process's event
 * loop: no other activity of the process starts, heartbeats, prepares its inputs or hands its result
 * back until the call returns (a whole GPU call on a GPU pod), and a process never runs two model
 * calls at once (docs/performance.md, "Model calls on threads"). Here a role's session is opened on
 * each of up to `modelThreads` threads (VLDM_MODEL_THREADS, src/config/config.ts); a call goes to the
 * next free one and the event loop stays free meanwhile. Every thread opens the same file with the same
 * options (src/models/session-handle.ts), so a call gives the same bytes on any thread or on none.
 *
 * Threads are started when a call finds none free (the first at open, to read the model's inputs and
 * outputs), never more than the count, and idle threads do not keep a process alive. A thread that
 * dies fails its call and is replaced by the next call.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import type { OutputTensor, SessionHandle, SessionIo, TensorData } from './session-handle';

/** Most model threads a session may have. */
export const MAX_MODEL_THREADS = 64;

/**
 * The default thread count per session: the host's cores, at most 2. One thread already frees the
 * event loop; a second lets two activities of one process call the same model at once (the README
 * job's upscale tiles on 2 cores). Each thread holds its own copy of the session (weights included).
 */
export function defaultModelThreads(): number {
  return Math.min(2, availableParallelism());
}

/** What a model thread is asked to do; one request at a time per thread. */
export type ModelThreadRequest =
  | { op: 'open'; path: string; options: ort.InferenceSession.SessionOptions }
  | { op: 'run'; feeds: Record<string, TensorData>; output: string };

/** A model thread's answer to its one request in flight: `error` when it failed. */
export interface ModelThreadReply {
  error?: string;
  io?: SessionIo;
  output?: OutputTensor;
}

interface Call {
  feeds: Readonly<Record<string, TensorData>>;
  output: string;
  resolve: (out: OutputTensor) => void;
  reject: (err: Error) => void;
}

/** One thread with its session: requests go one at a time, each answered by the next reply. */
class ModelThread {
  private waiting: { resolve: (r: ModelThreadReply) => void; reject: (err: Error) => void } | undefined;
  private exited = false;

  constructor(
    private readonly worker: Worker,
    onLost: (thread: ModelThread) => void,
  ) {
    worker.on('message', (reply: ModelThreadReply) => {
      const w = this.waiting;
      this.waiting = undefined;
      worker.unref();
      w?.resolve(reply);
    });
    const lost = (err: Error) => {
      if (this.exited) return;
      this.exited = true;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(err);
      onLost(this);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`model thread exited with code ${code}`)));
  }

  /** Sends one request and resolves with its reply (rejects with the reply's error). */
  async request(req: ModelThreadRequest, transfer: ArrayBuffer[] = []): Promise<ModelThreadReply> {
    if (this.exited) throw new Error('model thread has exited');
    if (this.waiting) throw new Error('model thread is busy'); // the pool never does this
    const reply = await new Promise<ModelThreadReply>((resolve, reject) => {
      this.waiting = { resolve, reject };
      // A thread with a request in flight keeps the process alive until it answers; an idle one does not.
      this.worker.ref();
      this.worker.postMessage(req, transfer);
    });
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply;
  }

  /** Stops the thread; a request in flight fails (the session was released under it). */
  async stop(): Promise<void> {
    if (!this.exited) {
      this.exited = true;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(new Error('the model session was released'));
    }
    await this.worker.terminate();
  }
}

/** The feeds as a thread receives them, and the buffers that move instead of being copied twice. */
function outgoing(feeds: Readonly<Record<string, TensorData>>): {
  feeds: Record<string, TensorData>;
  transfer: ArrayBuffer[];
} {
  const out: Record<string, TensorData> = {};
  const transfer: ArrayBuffer[] = [];
  for (const [name, { shape, data }] of Object.entries(feeds)) {
    // The caller keeps its arrays (the sampling loop reads x after the call), so they are copied once
    // here and the copy moves (postMessage's own copy of an array is two: into the message and out).
    // Shared memory is passed as it is.
    if (data.buffer instanceof ArrayBuffer) {
      const copy = data.slice();
      out[name] = { shape, data: copy };
      transfer.push(copy.buffer);
    } else out[name] = { shape, data };
  }
  return { feeds: out, transfer };
}

/** A session opened on up to `threads` model threads, each call on the next free one. */
class ThreadedSession implements SessionHandle {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  private readonly idle: ModelThread[] = [];
  private readonly all = new Set<ModelThread>();
  private readonly queue: Call[] = [];
  private starting = 0;
  private closed = false;

  constructor(
    private readonly open: () => Promise<ModelThread>,
    first: ModelThread,
    io: SessionIo,
    private readonly most: number,
  ) {
    this.inputNames = io.inputNames;
    this.outputNames = io.outputNames;
    this.inputMetadata = io.inputMetadata;
    this.outputMetadata = io.outputMetadata;
    this.all.add(first);
    this.idle.push(first);
  }

  get threads(): number {
    return this.all.size;
  }

  run(feeds: Readonly<Record<string, TensorData>>, output: string): Promise<OutputTensor> {
    if (this.closed) return Promise.reject(new Error('the model session was released'));
    return new Promise((resolve, reject) => {
      this.queue.push({ feeds, output, resolve, reject });
      this.pump();
    });
  }

  async release(): Promise<void> {
    this.closed = true;
    const err = new Error('the model session was released');
    for (const c of this.queue.splice(0)) c.reject(err);
    const threads = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(threads.map((t) => t.stop()));
  }

  /** A thread left the pool (it died): its call has failed; the next call starts another. */
  lost(thread: ModelThread): void {
    this.all.delete(thread);
    const at = this.idle.indexOf(thread);
    if (at >= 0) this.idle.splice(at, 1);
    this.pump();
  }

  private pump(): void {
    while (this.queue.length > 0 && this.idle.length > 0)
      this.dispatch(this.idle.pop()!, this.queue.shift()!);
    // Calls still waiting and room for more threads: start one per waiting call, up to the count.
    while (!this.closed && this.queue.length > this.starting && this.all.size + this.starting < this.most) {
      this.starting++;
      this.open().then(
        (thread) => {
          this.starting--;
          if (this.closed) return void thread.stop();
          this.all.add(thread);
          this.idle.push(thread);
          this.pump();
        },
        (err: Error) => {
          this.starting--;
          // It opened on the first thread, so this is the host (memory, threads), not the model: fail
          // one waiting call with it rather than retrying forever.
          this.queue.shift()?.reject(err);
          this.pump();
        },
      );
    }
  }

  private dispatch(thread: ModelThread, call: Call): void {
    const { feeds, transfer } = outgoing(call.feeds);
    thread.request({ op: 'run', feeds, output: call.output }, transfer).then(
      (reply) => {
        if (!this.closed && this.all.has(thread)) this.idle.push(thread);
        if (reply.output) call.resolve(reply.output);
        else call.reject(new Error('model thread answered without an output'));
        this.pump();
      },
      (err: Error) => {
        // An error of the call (onnxruntime's) leaves the thread usable; a dead thread has left `all`.
        if (!this.closed && this.all.has(thread)) this.idle.push(thread);
        call.reject(err);
        this.pump();
      },
    );
  }
}

/**
 * Opens the model at `path` on model threads running `script` (model-thread.js): one thread now (its
 * errors are the load's errors, as onnxruntime words them), more as calls need them, up to `threads`.
 */
export async function openThreaded(
  script: string,
  path: string,
  options: ort.InferenceSession.SessionOptions,
  threads: number,
): Promise<SessionHandle> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_MODEL_THREADS)
    throw new RangeError(`model threads must be an integer in [1, ${MAX_MODEL_THREADS}], got ${threads}`);
  // The pool, once it exists: a thread that dies reports to it (the first one dies before it does).
  const pool: { session?: ThreadedSession } = {};
  const open = async (): Promise<{ thread: ModelThread; io: SessionIo }> => {
    const worker = new Worker(script, { name: 'vldm-model' });
    const thread = new ModelThread(worker, (t) => pool.session?.lost(t));
    try {
      const reply = await thread.request({ op: 'open', path, options });
      return { thread, io: reply.io! };
    } catch (err) {
      await thread.stop();
      throw err;
    }
  };
  const first = await open();
  pool.session = new ThreadedSession(async () => (await open()).thread, first.thread, first.io, threads);
  return pool.session;
}
