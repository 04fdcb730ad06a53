/**
 * The script of a noise thread (noise-threads.ts): computes the row ranges it is sent into the box's
 * shared buffer and answers when it is done (with the error message if it failed). Runs in a worker_threads Worker, compiled to dist/.
 */
import { parentPort } from 'node:worker_threads';
import { fieldRows } from '../sampling/noise';
import type { NoiseReply, NoiseTask } from './noise-threads';

const port = parentPort;
if (!port) throw new Error('noise-thread.js runs in a worker thread (src/activity-runtime/noise-threads.ts)');

port.on('message', (t: NoiseTask) => {
  let reply: NoiseReply;
  try {
    const rowLen = t.size[t.size.length - 1];
    const values = new Float32Array(t.buffer, t.rowFrom * rowLen * 4, (t.rowTo - t.rowFrom) * rowLen);
    fieldRows(t.stream, t.shape, t.origin, t.size, t.rowFrom, t.rowTo, values);
    reply = {};
  } catch (err) {
    reply = { error: (err as Error).message };
  }
  port.postMessage(reply);
});
