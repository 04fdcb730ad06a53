/**
 * The numbers of one `vldm bench` run, from its per-attempt records (src/bench/accelerator.ts) and its
 * workflows' histories (src/bench/histories.ts), and their text form. Every line says the
 * accelerators were EMULATED. Pure: run.ts collects the inputs.
 *
 * Lower bound of the makespan (docs/performance.md):
 *   max( chain + tail , slot-seconds / G )
 * chain: the emulated accelerator time of every keyframe activity (the chain is sequential);
 * tail: the shortest render after the last keyframe: two interpolation passes, one decode window and
 * one upscale tile (the shortest of each, emulated) plus the shortest clip encode and the stitch (real
 * CPU time on the media worker); slot-seconds: the emulated time of every model call of the job.
 */
import { quantile } from './histories';
import type { AttemptRecord } from './accelerator';
import { stageOfActivity } from '../observability/metrics';

export interface WorkflowStats {
  workflowId: string;
  events: number;
  bytes: number;
  maxPendingActivities: number;
  maxPendingChildren: number;
}

export interface Spread {
  count: number;
  medianMs: number;
  p95Ms: number;
}

export interface BenchResult {
  emulated: true;
  label: string;
  /** The pack whose ONNX calls ran (the label names it too). */
  pack: string;
  schedule: 'dataflow' | 'barrier';
  gpus: number;
  processes: number;
  dilation: number;
  /** Niceness of the GPU worker processes, as the kernel reported it after they started. */
  gpuNice: number;
  /** Noise threads per GPU worker process (0: noise on the activity's thread). */
  noiseThreads: number;
  /** Threads per model session in each GPU worker process (0: model calls on the activity's thread). */
  modelThreads: number;
  speedTable: string;
  jobId: string;
  seconds: number;
  frames: { expected: number; ffprobe: number };
  sha256: string;
  makespanSeconds: number;
  lowerBound: {
    seconds: number;
    chainSeconds: number;
    tailSeconds: number;
    slotSeconds: number;
    perSlotSeconds: number;
    bound: 'chain' | 'slots';
  };
  ratio: number;
  utilisation: { all: number; byStage: Record<string, number> };
  overhead: {
    /** Scheduled → started as the history records it, backlog included (tasks waiting for busy slots). */
    queueWait: Spread;
    /** Scheduled (or a worker slot freed, whichever is later) → started: Temporal's hand-over. */
    scheduledToStarted: Spread;
    completedToNextScheduled: Spread;
    startedToFirstCall: Spread;
    lastCallToCompleted: Spread;
    /** The Temporal part of dispatch, per activity: scheduled→started + completed→next scheduled (medians and p95s added). */
    dispatch: { medianMs: number; p95Ms: number };
  };
  /** retries: attempts beyond the first over the job's activities, from the histories. */
  activities: {
    attempts: number;
    failedAttempts: number;
    overruns: number;
    retries: number;
    retriedActivities: number;
  };
  /** With `--kills`: what was killed, and the model time the failed attempts cost. */
  chaos?: {
    kills: number;
    sigkill: number;
    sigterm: number;
    byWorker: Record<string, number>;
    failedAttemptSlotSeconds: number;
    slotSeconds: number;
  };
  /**
   * Host work per completed attempt by stage: its wall time less its model calls (emulated, or real
   * where longer) and its waits for a slot: noise, tensor I/O, checksums, blending, encoding, the SDK.
   */
  hostWork: Record<string, Spread>;
  workflows: {
    count: number;
    maxEvents: WorkflowStats;
    maxBytes: WorkflowStats;
    maxPendingActivities: number;
    maxPendingChildren: number;
  };
  storedBytes: { total: number; perOutputFrame: number; rawFrameBytes: number };
  cpu: { host: number; temporal: number; workers: number; cores: number };
}

/** What every bench output says about its accelerators, naming the pack whose ONNX calls ran. */
export function emulationLabel(pack: string): string {
  return `EMULATED accelerators (real ONNX calls of ${pack} held to calibrated times)`;
}

export function spread(xs: readonly number[]): Spread {
  return { count: xs.length, medianMs: round(quantile(xs, 0.5)), p95Ms: round(quantile(xs, 0.95)) };
}

const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : x);
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const minOf = (xs: readonly number[]) => (xs.length ? Math.min(...xs) : 0);

/** The lower bound of the makespan from the completed attempts of a job on `gpus` slots. */
export function lowerBound(records: readonly AttemptRecord[], gpus: number): BenchResult['lowerBound'] {
  const done = records.filter((r) => r.outcome === 'completed');
  const busy = (type: string) =>
    done.filter((r) => r.activityType === type && r.calls > 0).map((r) => r.busyMs);
  const wall = (type: string) =>
    done.filter((r) => r.activityType === type).map((r) => r.completedMs - r.startedMs);
  const chainMs = sum(busy('generateKeyframes'));
  const tailMs =
    2 * minOf(busy('interpolate')) +
    minOf(busy('decode')) +
    minOf(busy('upscale')) +
    minOf(wall('encodeSegment')) +
    minOf(wall('stitchJob'));
  const slotMs = sum(done.map((r) => r.busyMs));
  const chainSeconds = (chainMs + tailMs) / 1000;
  const perSlotSeconds = slotMs / 1000 / gpus;
  return {
    seconds: round(Math.max(chainSeconds, perSlotSeconds)),
    chainSeconds: round(chainMs / 1000),
    tailSeconds: round(tailMs / 1000),
    slotSeconds: round(slotMs / 1000),
    perSlotSeconds: round(perSlotSeconds),
    bound: chainSeconds >= perSlotSeconds ? 'chain' : 'slots',
  };
}

/** Share of the G slots' time each stage kept busy over the makespan. */
export function utilisation(
  records: readonly AttemptRecord[],
  gpus: number,
  makespanSeconds: number,
): BenchResult['utilisation'] {
  const capacity = gpus * makespanSeconds * 1000;
  const byStage: Record<string, number> = {};
  for (const r of records) {
    if (r.busyMs === 0) continue;
    const stage = stageOfActivity(r.activityType);
    byStage[stage] = (byStage[stage] ?? 0) + r.busyMs;
  }
  for (const k of Object.keys(byStage)) byStage[k] = Math.round((byStage[k] / capacity) * 1000) / 1000;
  return { all: Math.round((sum(records.map((r) => r.busyMs)) / capacity) * 1000) / 1000, byStage };
}

export function hostWork(records: readonly AttemptRecord[]): Record<string, Spread> {
  const by: Record<string, number[]> = {};
  for (const r of records) {
    if (r.outcome !== 'completed') continue;
    const stage = stageOfActivity(r.activityType);
    (by[stage] ??= []).push(Math.max(0, r.completedMs - r.startedMs - r.busyMs - r.waitMs));
  }
  return Object.fromEntries(Object.entries(by).map(([k, v]) => [k, spread(v)]));
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (s: Spread) => `median ${s.medianMs} ms, p95 ${s.p95Ms} ms (n=${s.count})`;

export function formatResult(r: BenchResult): string {
  const lines = [
    `[${r.label}] ${r.schedule} schedule, G=${r.gpus} slots in ${r.processes} worker processes, dilation ×${r.dilation}, GPU workers at nice ${r.gpuNice} with ${r.noiseThreads} noise threads and ${r.modelThreads} model threads per session each`,
    `  speed table: ${r.speedTable}`,
    `  job ${r.jobId}: ${r.seconds} s, ${r.frames.ffprobe} frames by ffprobe (expected ${r.frames.expected}), sha256 ${r.sha256}`,
    `  makespan ${r.makespanSeconds} s; lower bound ${r.lowerBound.seconds} s (${r.lowerBound.bound}: chain ${r.lowerBound.chainSeconds} s + tail ${r.lowerBound.tailSeconds} s; slot-seconds ${r.lowerBound.slotSeconds} / G = ${r.lowerBound.perSlotSeconds} s); ratio ${r.ratio.toFixed(3)}`,
    `  utilisation of the emulated slots ${pct(r.utilisation.all)}: ${Object.entries(r.utilisation.byStage)
      .map(([s, u]) => `${s} ${pct(u)}`)
      .join(', ')}`,
    `  queue wait (scheduled→started, backlog included) ${ms(r.overhead.queueWait)}`,
    `  Temporal dispatch per activity: scheduled (or slot free)→started ${ms(r.overhead.scheduledToStarted)}; completed→next scheduled ${ms(r.overhead.completedToNextScheduled)}; sum median ${r.overhead.dispatch.medianMs} ms, p95 ${r.overhead.dispatch.p95Ms} ms`,
    `  in the worker: started→first model call ${ms(r.overhead.startedToFirstCall)}; last model call→completed ${ms(r.overhead.lastCallToCompleted)}`,
    `  host work per activity (wall − model calls − slot waits): ${Object.entries(r.hostWork)
      .map(([s, v]) => `${s} ${v.medianMs}/${v.p95Ms} ms`)
      .join(', ')} (median/p95)`,
    `  ${r.activities.attempts} activity attempts (${r.activities.failedAttempts} failed); ${r.activities.retriedActivities} activities retried (${r.activities.retries} extra attempts); ${r.activities.overruns} model calls took longer on the CPU than their emulated time`,
    ...(r.chaos
      ? [
          `  chaos: ${r.chaos.kills} worker kills (${r.chaos.sigkill} SIGKILL, ${r.chaos.sigterm} SIGTERM; ${Object.entries(
            r.chaos.byWorker,
          )
            .map(([k, n]) => `${k} ${n}`)
            .join(
              ', ',
            )}); failed attempts held ${r.chaos.failedAttemptSlotSeconds} slot-seconds; ${r.chaos.slotSeconds} slot-seconds in all`,
        ]
      : []),
    `  ${r.workflows.count} workflows: most events ${r.workflows.maxEvents.events} (${r.workflows.maxEvents.workflowId}), most bytes ${r.workflows.maxBytes.bytes} (${r.workflows.maxBytes.workflowId}); most pending at once: ${r.workflows.maxPendingActivities} activities, ${r.workflows.maxPendingChildren} children`,
    `  stored ${r.storedBytes.total} bytes = ${r.storedBytes.perOutputFrame} per output frame (${(r.storedBytes.total / r.storedBytes.rawFrameBytes).toFixed(2)}× the raw 8-bit frames)`,
    `  CPU (cores busy on average, of ${r.cpu.cores}): host ${r.cpu.host}, Temporal server ${r.cpu.temporal}, bench workers ${r.cpu.workers}`,
  ];
  return lines.join('\n');
}

/**
 * Per attempt, how long a free worker slot and its task coexisted before the task started: the time
 * Temporal took to hand the task to the worker, without the time the task waited behind busy slots.
 * Each worker process's queue is replayed in start order: an attempt takes the slot that freed first
 * (slots start free at `t0`, the job's start), so its delay is started − max(scheduled, slot free).
 */
export function slotToStartMs(
  records: readonly AttemptRecord[],
  concurrency: (pid: number, taskQueue: string) => number,
  t0: number,
): number[] {
  const streams = new Map<string, AttemptRecord[]>();
  for (const r of records) {
    const k = `${r.pid} ${r.taskQueue}`;
    const list = streams.get(k) ?? [];
    list.push(r);
    streams.set(k, list);
  }
  const out: number[] = [];
  for (const list of streams.values()) {
    list.sort((a, b) => a.startedMs - b.startedMs);
    const free = new Array<number>(Math.max(1, concurrency(list[0].pid, list[0].taskQueue))).fill(t0);
    for (const r of list) {
      free.sort((a, b) => a - b);
      const freedAt = free.shift() as number;
      out.push(Math.max(0, r.startedMs - Math.max(r.scheduledMs, freedAt)));
      free.push(r.completedMs);
    }
  }
  return out;
}
