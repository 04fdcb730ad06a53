/**
 * gaussianField on worker threads. Noise is the largest synchronous piece of an upscale tile's host
 * work (1.88 M values at the reference shapes: ~45 ms on one core since Philox runs in WebAssembly,
 * 73–85 ms before; docs/performance.md, "Host work per activity"). On the activity's own thread it
 * blocks the worker process's event loop, so every other activity of the process waits to start,
 * heartbeat or hand its result back; here the rows of the box are split across a small pool of
 * threads instead, and the event loop stays free. Every value depends
 * on its global position only (src/sampling/noise.ts fieldRows), so any split gives the bytes of gaussianField.
 *
 * One pool per process, sized by `noiseThreads` (VLDM_NOISE_THREADS, src/config/config.ts); 0 keeps
 * the noise on the calling thread. Threads are started on first use and do not keep a process alive.
 * Without a compiled thread script (src/host/thread-script.ts) noise stays on the caller's thread.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { threadScript } from '../host/thread-script';
import { phaseAsync } from '../observability/host-phases';
import {
  checkFieldBox,
  fieldRowCount,
  fieldStream,
  gaussianField,
  type FieldKey,
  type NoiseStream,
} from '../sampling/noise';

/** Most noise threads a process may ask for. */
export const MAX_NOISE_THREADS = 64;
/** Boxes smaller than this stay on the calling thread: handing them over costs more than it saves. */
const MIN_THREADED_VALUES = 1 << 16;

/** The default pool size: the host's cores, at most 4 (a tile's noise gains little past that). */
export function defaultNoiseThreads(): number {
  return Math.min(4, availableParallelism());
}

/** One row range of one box, as a thread receives it. */
export interface NoiseTask {
  stream: NoiseStream;
  shape: number[];
  origin: number[];
  size: number[];
  rowFrom: number;
  rowTo: number;
  /** The box's values; this task writes rows [rowFrom, rowTo) at their place in it. */
  buffer: SharedArrayBuffer;
}

/**
 * A thread's answer to its one range in flight (the pool knows which it is): the error message if it
 * failed.
 */
export interface NoiseReply {
  error?: string;
}

interface Pending {
  task: NoiseTask;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A fixed number of threads and a FIFO of row ranges; a thread takes the next range when it is free. */
export class NoisePool {
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private started = 0;
  private closed = false;
  private retiring = false;

  constructor(
    readonly threads: number,
    private readonly script: string,
  ) {}

  /** The box's values, computed as `parts` row ranges on the pool's threads. */
  async field(key: FieldKey, shape: number[], origin: number[], size: number[]): Promise<Float32Array> {
    checkFieldBox(shape, origin, size);
    const stream = fieldStream(key);
    const n = size.reduce((a, b) => a * b, 1);
    const rows = fieldRowCount(size);
    const buffer = new SharedArrayBuffer(n * Float32Array.BYTES_PER_ELEMENT);
    const parts = Math.min(this.threads, rows);
    const ranges: Array<Promise<void>> = [];
    for (let p = 0; p < parts; p++) {
      const rowFrom = Math.floor((rows * p) / parts);
      const rowTo = Math.floor((rows * (p + 1)) / parts);
      const task: NoiseTask = { stream, shape, origin, size, rowFrom, rowTo, buffer };
      ranges.push(new Promise<void>((resolve, reject) => this.submit({ task, resolve, reject })));
    }
    await Promise.all(ranges);
    // A plain copy: onnxruntime and the tensor code expect an ordinary ArrayBuffer (~2 ms for a tile).
    return copyOut(buffer, n);
  }

  /** Stops the threads; queued and running ranges fail. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new Error('the noise thread pool was closed');
    for (const p of this.queue.splice(0)) p.reject(err);
    const workers = [...this.idle.splice(0), ...this.running.keys()];
    for (const [, p] of this.running) p.reject(err);
    this.running.clear();
    await Promise.all(workers.map((w) => w.terminate()));
  }

  /** Lets the ranges it holds finish, then stops its threads (a pool that setNoiseThreads replaced). */
  retire(): void {
    this.retiring = true;
    this.stopIfRetired();
  }

  private stopIfRetired(): void {
    if (this.retiring && this.queue.length === 0 && this.running.size === 0) void this.close();
  }

  private submit(p: Pending): void {
    if (this.closed) return p.reject(new Error('the noise thread pool was closed'));
    this.queue.push(p);
    this.pump();
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? this.spawn();
      if (!worker) return;
      const p = this.queue.shift()!;
      this.running.set(worker, p);
      // A busy thread keeps the process alive until its range is done; an idle one does not.
      worker.ref();
      worker.postMessage(p.task);
    }
  }

  private spawn(): Worker | undefined {
    if (this.started >= this.threads) return undefined;
    this.started++;
    const worker = new Worker(this.script, { name: 'vldm-noise' });
    worker.on('message', (reply: NoiseReply) => {
      const p = this.running.get(worker);
      this.running.delete(worker);
      worker.unref();
      if (!this.closed) this.idle.push(worker);
      if (p) {
        if (reply.error === undefined) p.resolve();
        else p.reject(new Error(`noise thread: ${reply.error}`));
      }
      this.pump();
      this.stopIfRetired();
    });
    // A thread that dies (out of memory, a crash) fails its range and is replaced on the next range.
    const lost = (err: Error) => {
      const p = this.running.get(worker);
      this.running.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      this.started--;
      p?.reject(err);
      this.pump();
      this.stopIfRetired();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => {
      if (this.running.has(worker) || this.idle.includes(worker))
        lost(new Error(`noise thread exited with code ${code}`));
    });
    return worker;
  }
}

function copyOut(buffer: SharedArrayBuffer, n: number): Float32Array {
  const out = new Float32Array(n);
  out.set(new Float32Array(buffer));
  return out;
}

let poolSize = defaultNoiseThreads();
let pool: NoisePool | undefined;

/** Sets this process's noise thread count (0: on the calling thread); the next box uses it. */
export function setNoiseThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 0 || threads > MAX_NOISE_THREADS)
    throw new RangeError(`noise threads must be an integer in [0, ${MAX_NOISE_THREADS}], got ${threads}`);
  if (threads === poolSize) return;
  poolSize = threads;
  pool?.retire();
  pool = undefined;
}

/** This process's noise thread count. */
export function noiseThreads(): number {
  return poolSize;
}

/**
 * gaussianField's values (the same bytes), computed on this process's noise threads when the box is
 * large enough and a thread script exists, else on the calling thread.
 */
export async function gaussianFieldAsync(
  key: FieldKey,
  shape: number[],
  origin: number[],
  size: number[],
): Promise<Float32Array> {
  const n = size.reduce((a, b) => a * b, 1);
  if (poolSize === 0 || n < MIN_THREADED_VALUES) return gaussianField(key, shape, origin, size);
  if (!pool) {
    const script = threadScript(__dirname, 'src/activity-runtime', 'noise-thread.js');
    if (!script) return gaussianField(key, shape, origin, size);
    pool = new NoisePool(poolSize, script);
  }
  const p = pool;
  return phaseAsync('noise', () => p.field(key, shape, origin, size));
}
