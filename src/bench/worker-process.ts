/**
 * One worker process of `vldm bench` (started by src/bench/run.ts as `node worker-process.js <json>`):
 * real Temporal workers on the given queues against the bench's store; GPU queues hold their model
 * calls on EMULATED accelerators (src/bench/accelerator.ts) when ACCELERATOR_ENV is set. Stops on
 * SIGTERM like `vldm worker`.
 */
import type { QueueRole } from '../common/names';
import { createStore, storeConfigFromUrl } from '../storage';
import { connectEventBus } from '../events';
import { startWorkers } from '../worker/workers';
import { ACCELERATOR_ENV, EmulatedAccelerators, parseAcceleratorSettings } from './accelerator';

export interface BenchWorkerArgs {
  temporalAddress: string;
  namespace: string;
  store: string;
  queues: QueueRole[];
  concurrency: Partial<Record<QueueRole, number>>;
  pack?: string;
  scratchDir: string;
  /** Noise threads per process (src/activity-runtime/noise-threads.ts). @default the host's cores, at most 4 */
  noiseThreads?: number;
  /** Threads per model session (src/models/model-threads.ts). @default 0 (the calls on the activity's thread) */
  modelThreads?: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as BenchWorkerArgs;
  const raw = process.env[ACCELERATOR_ENV];
  const accelerators = raw ? new EmulatedAccelerators(parseAcceleratorSettings(raw)) : undefined;
  const store = createStore(storeConfigFromUrl(args.store));
  const events = await connectEventBus(undefined, { name: 'vldm-bench-worker' });
  const running = await startWorkers({
    temporalAddress: args.temporalAddress,
    namespace: args.namespace,
    queues: args.queues,
    store,
    events,
    ...(args.pack ? { warmPack: args.pack } : {}),
    scratchDir: args.scratchDir,
    concurrency: args.concurrency,
    intraOpThreads: 1,
    ...(args.noiseThreads !== undefined ? { noiseThreads: args.noiseThreads } : {}),
    ...(args.modelThreads !== undefined ? { modelThreads: args.modelThreads } : {}),
    observability: false,
    ...(accelerators ? { accelerators } : {}),
    log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
  });
  // The bench waits for this line before it submits a job.
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => void running.shutdown());
  process.once('SIGINT', () => void running.shutdown());
  await running.done;
  await events.close();
  await store.close?.();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench worker: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
