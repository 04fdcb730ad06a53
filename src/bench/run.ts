/**
 * One `vldm bench` run (docs/performance.md): real worker processes against a real Temporal server and
 * artifact store, G EMULATED accelerator slots spread over the GPU worker processes, one job submitted
 * and waited for, then its histories, per-attempt records, output and stored bytes read back into a
 * BenchResult. The caller starts the servers and compiles the spec; each run gets its own job id, so
 * nothing is reused between runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { JobSpec } from '../planning/spec';
import { TASK_QUEUES, jobPrefix, type QueueRole } from '../common/names';
import { connectTemporal, startJob, waitForJob } from '../client/jobs';
import { createStore, storeConfigFromUrl } from '../storage';
import { probeVideo } from '../media/ffmpeg';
import { repoRoot } from '../host/paths';
import { hostCpuSeconds, processCpuSeconds } from '../host/cpu';
import { seededRandom } from '../common/random';
import { ACCELERATOR_ENV, type AcceleratorSettings, type AttemptRecord } from './accelerator';
import type { BenchWorkerArgs } from './worker-process';
import { historyFacts, quantile } from './histories';
import type { SpeedTable } from './speed-table';
import { defaultNoiseThreads } from '../activity-runtime/noise-threads';
import { defaultModelThreads } from '../models/model-threads';
import {
  emulationLabel,
  hostWork,
  lowerBound,
  slotToStartMs,
  spread,
  utilisation,
  type BenchResult,
  type WorkflowStats,
} from './report';

export interface BenchRunOptions {
  spec: JobSpec;
  expectedFrames: number;
  width: number;
  height: number;
  gpus: number;
  /** GPU worker processes the G slots are spread over. */
  processes: number;
  dilation: number;
  table: SpeedTable;
  schedule: 'dataflow' | 'barrier';
  temporalAddress: string;
  namespace: string;
  /** Artifact store URL the workers and the bench use; `storeEnv` holds its credentials/endpoint. */
  store: string;
  storeEnv: Record<string, string>;
  /** pid of the Temporal server, for its CPU time. */
  temporalPid?: number;
  /** Folder of this run: traces, worker logs, scratch, the output. */
  workDir: string;
  /** Worker kills during the job (`--kills`): see {@link ChaosOptions}. */
  chaos?: ChaosOptions;
  /**
   * Niceness of the GPU worker processes (0–19; `--gpu-nice`). On a cluster the orchestration worker,
   * the media worker and Temporal have CPUs of their own; here they share 2 cores with the GPU workers'
   * host work, and a lower priority for the latter is the nearest this machine gets to that.
   * @default 0
   */
  gpuNice?: number;
  /** Noise threads per GPU worker process (src/activity-runtime/noise-threads.ts). @default the host's cores, at most 4 */
  noiseThreads?: number;
  /** Threads per model session in each GPU worker process (src/models/model-threads.ts). @default the host's cores, at most 2 */
  modelThreads?: number;
  log: (line: string) => void;
}

const GPU_QUEUES: QueueRole[] = ['keyframe', 'interpolation', 'decode', 'upscale'];
const READY_TIMEOUT_MS = 180_000;
/** Activities a GPU worker runs at once per emulated slot and queue. */
export const ACTIVITIES_PER_SLOT = 2;

/**
 * Chaos during a bench job: `kills` times, about every `everyMs` (seeded jitter of ±50%), a random live
 * worker process (orchestration, media or GPU) gets SIGKILL or SIGTERM (a seeded coin) and a replacement
 * with the same queues and slots starts at once, as a Deployment would replace a pod. The job must still
 * end in the bytes of an undisturbed run; what it cost is in the result's `chaos`.
 */
export interface ChaosOptions {
  kills: number;
  everyMs: number;
  seed: number;
}

interface Spawned {
  child: ChildProcess;
  concurrency: Partial<Record<QueueRole, number>>;
}

function startWorker(
  name: string,
  args: BenchWorkerArgs,
  env: NodeJS.ProcessEnv,
  workDir: string,
  nice = 0,
): Promise<ChildProcess> {
  const entry = path.join(repoRoot(), 'dist', 'src', 'bench', 'worker-process.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first`);
  const logFile = path.join(workDir, `${name}.log`);
  // Through nice(1), so that every thread of the process (V8's, libuv's, onnxruntime's, the Temporal
  // core's) has the niceness from its first instruction; nice execs node, so the pid is node's.
  const argv = [entry, JSON.stringify(args)];
  const child = spawn(
    nice > 0 ? 'nice' : process.execPath,
    nice > 0 ? ['-n', String(nice), process.execPath, ...argv] : argv,
    {
      env: { ...env, UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE ?? '16' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const log: string[] = [];
  child.stderr?.on('data', (d: Buffer) => {
    log.push(d.toString());
    if (log.length > 200) log.shift();
  });
  child.stderr?.pipe(createWriteStream(logFile, { flags: 'a' }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`bench worker ${name} was not ready within ${READY_TIMEOUT_MS / 1000} s (log: ${logFile})`),
      );
    }, READY_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (l) => {
      if (l.trim() === 'ready') {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `bench worker ${name} exited with ${code} before it was ready: ${log.join('').slice(-2000)}`,
        ),
      );
    });
  });
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Kills workers while the job runs (see {@link ChaosOptions}) and counts what it did. A victim is one of
 * the live workers that is not already going down; its replacement starts as soon as it has exited
 * (SIGTERM's grace included, SIGKILL after 30 s), while the next kill is already being timed, so several
 * workers can be down at once, as when a node with several pods goes.
 */
async function runChaos(
  chaos: ChaosOptions,
  live: Map<string, ChildProcess>,
  replace: (name: string, generation: number) => Promise<void>,
  job: { done: boolean },
  log: (line: string) => void,
  retired: { cpuSeconds: number },
): Promise<{ kills: number; sigkill: number; sigterm: number; byWorker: Record<string, number> }> {
  const random = seededRandom(chaos.seed);
  const out = { kills: 0, sigkill: 0, sigterm: 0, byWorker: {} as Record<string, number> };
  const down = new Set<string>();
  const replacements: Array<Promise<void>> = [];
  while (!job.done && out.kills < chaos.kills) {
    await new Promise((r) => setTimeout(r, chaos.everyMs * (0.5 + random())));
    const names = [...live.keys()].filter((n) => !down.has(n));
    if (job.done || names.length === 0) continue;
    const name = names[Math.floor(random() * names.length)];
    const victim = live.get(name)!;
    const signal = random() < 0.5 ? 'SIGKILL' : 'SIGTERM';
    const kind = name.replace(/-\d+$/, '');
    out.kills += 1;
    out[signal === 'SIGKILL' ? 'sigkill' : 'sigterm'] += 1;
    out.byWorker[kind] = (out.byWorker[kind] ?? 0) + 1;
    log(`chaos ${out.kills}/${chaos.kills}: ${signal} to worker ${name} (pid ${victim.pid})`);
    retired.cpuSeconds += processCpuSeconds(victim.pid as number);
    down.add(name);
    const generation = out.kills;
    const gone =
      signal === 'SIGKILL' && victim.exitCode === null && victim.signalCode === null
        ? new Promise<void>((r) => {
            victim.once('exit', () => r());
            victim.kill('SIGKILL');
          })
        : stopWorker(victim);
    replacements.push(
      gone.then(async () => {
        await replace(name, generation);
        down.delete(name);
      }),
    );
  }
  await Promise.all(replacements);
  return out;
}

/** The G slots over P processes, as evenly as they go. */
export function slotsPerProcess(gpus: number, processes: number): number[] {
  const p = Math.max(1, Math.min(processes, gpus));
  return Array.from({ length: p }, (_, i) => Math.floor(gpus / p) + (i < gpus % p ? 1 : 0));
}

function readRecords(workDir: string, jobId: string): AttemptRecord[] {
  const out: AttemptRecord[] = [];
  for (const f of readdirSync(workDir).filter((n) => n.startsWith('trace-') && n.endsWith('.jsonl'))) {
    for (const line of readFileSync(path.join(workDir, f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const r = JSON.parse(line) as AttemptRecord;
      if (r.workflowId === jobId || r.workflowId.startsWith(`${jobId}/`)) out.push(r);
    }
  }
  return out;
}

export async function runBench(opts: BenchRunOptions): Promise<BenchResult> {
  const { spec, workDir, log } = opts;
  mkdirSync(workDir, { recursive: true });
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, ...opts.storeEnv };
  const common = {
    temporalAddress: opts.temporalAddress,
    namespace: opts.namespace,
    store: opts.store,
    scratchDir: path.join(workDir, 'scratch'),
  };
  const noiseThreads = opts.noiseThreads ?? defaultNoiseThreads();
  const modelThreads = opts.modelThreads ?? defaultModelThreads();
  const settings = (slots: number, i: string): AcceleratorSettings => ({
    slots,
    table: opts.table,
    dilation: opts.dilation,
    traceFile: path.join(workDir, `trace-${i}.jsonl`),
  });
  const spawned = new Map<number, Spawned>();
  const children: ChildProcess[] = [];
  const defs = new Map<string, { args: BenchWorkerArgs; accel?: AcceleratorSettings }>();
  const live = new Map<string, ChildProcess>();
  // CPU seconds of killed workers, read just before each kill (their /proc entry goes with them).
  const retired = { cpuSeconds: 0 };
  const gpuNice = opts.gpuNice ?? 0;
  const niceOf = (name: string) => (name.startsWith('gpu-') ? gpuNice : 0);
  const add = async (name: string, args: BenchWorkerArgs, accel?: AcceleratorSettings) => {
    defs.set(name, { args, ...(accel ? { accel } : {}) });
    const env = { ...baseEnv, ...(accel ? { [ACCELERATOR_ENV]: JSON.stringify(accel) } : {}) };
    const child = await startWorker(name, args, env, workDir, niceOf(name));
    children.push(child);
    live.set(name, child);
    spawned.set(child.pid as number, { child, concurrency: args.concurrency });
  };
  // A replacement of a killed worker: the same queues and slots, its own trace file and log.
  const replace = async (name: string, generation: number) => {
    const def = defs.get(name)!;
    const accel = def.accel && {
      ...def.accel,
      traceFile: def.accel.traceFile.replace(/\.jsonl$/, `-r${generation}.jsonl`),
    };
    const env = { ...baseEnv, ...(accel ? { [ACCELERATOR_ENV]: JSON.stringify(accel) } : {}) };
    const child = await startWorker(`${name}-r${generation}`, def.args, env, workDir, niceOf(name));
    children.push(child);
    live.set(name, child);
    spawned.set(child.pid as number, { child, concurrency: def.args.concurrency });
  };
  const slotCounts = slotsPerProcess(opts.gpus, opts.processes);
  try {
    log(
      `starting ${slotCounts.length + 2} worker processes (${emulationLabel(spec.pack)}; slots ${slotCounts.join('+')})`,
    );
    const starts: Array<Promise<void>> = [
      add('orchestration', { ...common, queues: ['orchestration'], concurrency: { orchestration: 100 } }),
      // The media worker runs no model: its settings only make it write its attempts' records.
      add('media', { ...common, queues: ['media'], concurrency: { media: 2 } }, settings(1, 'media')),
      ...slotCounts.map((slots, i) =>
        add(
          `gpu-${i}`,
          {
            ...common,
            queues: GPU_QUEUES,
            pack: spec.pack,
            noiseThreads,
            modelThreads,
            // Two activities in flight per slot, so one's host work (noise, tensor I/O) overlaps the
            // other's model calls, as a GPU worker pipelines them; the chain is one at a time anyway.
            concurrency: {
              keyframe: 1,
              interpolation: ACTIVITIES_PER_SLOT * slots,
              decode: ACTIVITIES_PER_SLOT * slots,
              upscale: ACTIVITIES_PER_SLOT * slots,
            },
          },
          settings(slots, `gpu-${i}`),
        ),
      ),
    ];
    await Promise.all(starts);
    // The niceness the kernel gives the GPU workers, read back rather than assumed: the result reports it.
    const gpuNiceSeen = Math.min(
      ...[...live].filter(([n]) => n.startsWith('gpu-')).map(([, c]) => getPriority(c.pid as number)),
    );

    const client = await connectTemporal(opts.temporalAddress, opts.namespace);
    try {
      const cpu0 = {
        host: hostCpuSeconds(),
        temporal: opts.temporalPid ? processCpuSeconds(opts.temporalPid) : 0,
        workers: children.reduce((a, c) => a + processCpuSeconds(c.pid as number), 0),
      };
      await startJob(client, spec, opts.schedule === 'barrier' ? { stageBarriers: true } : undefined);
      log(
        `job ${spec.jobId} started (${opts.schedule} schedule, G=${opts.gpus}, dilation ×${opts.dilation})`,
      );
      const jobDone = { done: false };
      // Settled into a value at once, so a failed replacement is reported after the job, not as an
      // unhandled rejection while it runs.
      const chaos = opts.chaos
        ? runChaos(opts.chaos, live, replace, jobDone, log, retired).then(
            (v) => ({ ok: true as const, v }),
            (err: unknown) => ({ ok: false as const, err }),
          )
        : undefined;
      let result;
      try {
        result = await waitForJob(client, spec.jobId);
      } finally {
        jobDone.done = true;
      }
      const chaosOutcome = chaos ? await chaos : undefined;
      if (chaosOutcome && !chaosOutcome.ok) throw chaosOutcome.err;
      const kills = chaosOutcome?.v;
      const cpu1 = {
        host: hostCpuSeconds(),
        temporal: opts.temporalPid ? processCpuSeconds(opts.temporalPid) : 0,
        workers: retired.cpuSeconds + children.reduce((a, c) => a + processCpuSeconds(c.pid as number), 0),
      };
      const jobInfo = await client.workflow.getHandle(spec.jobId).describe();
      const t0 = jobInfo.startTime.getTime();
      const makespanSeconds = ((jobInfo.closeTime?.getTime() ?? Date.now()) - t0) / 1000;
      log(`job ${spec.jobId} finished in ${makespanSeconds.toFixed(1)} s; reading its histories`);

      // Every workflow of the job: the job, its chapters and segments (ids are `<jobId>/…`).
      const ids: string[] = [];
      for await (const w of client.workflow.list({
        query: `WorkflowId = '${spec.jobId}' OR WorkflowId STARTS_WITH '${spec.jobId}/'`,
      }))
        ids.push(w.workflowId);
      const stats: WorkflowStats[] = [];
      const scheduledToStarted: number[] = [];
      const completedToNext: number[] = [];
      let retries = 0;
      let retriedActivities = 0;
      for (const id of ids) {
        const handle = client.workflow.getHandle(id);
        const info = (await handle.describe()).raw.workflowExecutionInfo;
        const history = await handle.fetchHistory();
        const facts = historyFacts(history.events ?? []);
        scheduledToStarted.push(...facts.scheduledToStartedMs);
        completedToNext.push(...facts.completedToNextScheduledMs);
        retries += facts.retries;
        retriedActivities += facts.retriedActivities;
        stats.push({
          workflowId: id,
          events: Number(info?.historyLength ?? 0),
          bytes: Number(info?.historySizeBytes ?? 0),
          maxPendingActivities: facts.maxPendingActivities,
          maxPendingChildren: facts.maxPendingChildren,
        });
      }

      const records = readRecords(workDir, spec.jobId);
      const concurrencyOf = (pid: number, queue: string) => {
        const role = (Object.keys(TASK_QUEUES) as QueueRole[]).find((q) => TASK_QUEUES[q] === queue);
        return (role && spawned.get(pid)?.concurrency[role]) || 1;
      };
      const slotToStart = slotToStartMs(records, concurrencyOf, t0);
      const withCalls = records.filter((r) => r.calls > 0 && r.firstCallMs !== undefined);
      const bound = lowerBound(records, opts.gpus);

      const store = createStore(storeConfigFromUrl(opts.store, baseEnv));
      let storedBytes = 0;
      try {
        for (const a of await store.list(jobPrefix(spec.jobId))) storedBytes += a.size;
        const outFile = path.join(workDir, 'output.mp4');
        await store.getToFile(result.outputKey, outFile);
        const probe = await probeVideo(outFile);
        const rawFrameBytes = opts.width * opts.height * 3 * opts.expectedFrames;
        const byEvents = [...stats].sort((a, b) => b.events - a.events)[0];
        const byBytes = [...stats].sort((a, b) => b.bytes - a.bytes)[0];
        const dispatchMedian = quantile(slotToStart, 0.5) + quantile(completedToNext, 0.5);
        const dispatchP95 = quantile(slotToStart, 0.95) + quantile(completedToNext, 0.95);
        const elapsed = makespanSeconds || 1;
        return {
          emulated: true,
          label: emulationLabel(spec.pack),
          pack: spec.pack,
          schedule: opts.schedule,
          gpus: opts.gpus,
          processes: slotCounts.length,
          dilation: opts.dilation,
          gpuNice: gpuNiceSeen,
          noiseThreads,
          modelThreads,
          speedTable: opts.table.source,
          jobId: spec.jobId,
          seconds: spec.seconds,
          frames: { expected: opts.expectedFrames, ffprobe: probe.frames },
          sha256: result.sha256,
          makespanSeconds: Math.round(makespanSeconds * 10) / 10,
          lowerBound: bound,
          ratio: makespanSeconds / bound.seconds,
          utilisation: utilisation(records, opts.gpus, makespanSeconds),
          overhead: {
            queueWait: spread(scheduledToStarted),
            scheduledToStarted: spread(slotToStart),
            completedToNextScheduled: spread(completedToNext),
            startedToFirstCall: spread(withCalls.map((r) => (r.firstCallMs as number) - r.startedMs)),
            lastCallToCompleted: spread(withCalls.map((r) => r.completedMs - (r.lastCallEndMs as number))),
            dispatch: { medianMs: Math.round(dispatchMedian), p95Ms: Math.round(dispatchP95) },
          },
          hostWork: hostWork(records),
          activities: {
            attempts: records.length,
            failedAttempts: records.filter((r) => r.outcome === 'failed').length,
            overruns: records.reduce((a, r) => a + r.overruns, 0),
            retries,
            retriedActivities,
          },
          ...(kills
            ? {
                chaos: {
                  ...kills,
                  // What the kills cost in model time: every recorded attempt that failed (SIGTERM's
                  // cancelled ones), plus the slot-seconds above an undisturbed run's, which the caller
                  // compares; a SIGKILLed attempt leaves no record (its calls are lost with it).
                  failedAttemptSlotSeconds:
                    Math.round(
                      records.filter((r) => r.outcome === 'failed').reduce((a, r) => a + r.busyMs, 0) / 100,
                    ) / 10,
                  slotSeconds: Math.round(records.reduce((a, r) => a + r.busyMs, 0) / 100) / 10,
                },
              }
            : {}),
          workflows: {
            count: stats.length,
            maxEvents: byEvents,
            maxBytes: byBytes,
            maxPendingActivities: Math.max(...stats.map((s) => s.maxPendingActivities)),
            maxPendingChildren: Math.max(...stats.map((s) => s.maxPendingChildren)),
          },
          storedBytes: {
            total: storedBytes,
            perOutputFrame: Math.round(storedBytes / opts.expectedFrames),
            rawFrameBytes,
          },
          cpu: {
            host: Math.round(((cpu1.host.busy - cpu0.host.busy) / elapsed) * 100) / 100,
            temporal: Math.round(((cpu1.temporal - cpu0.temporal) / elapsed) * 100) / 100,
            workers: Math.round(((cpu1.workers - cpu0.workers) / elapsed) * 100) / 100,
            cores: Math.round((cpu1.host.total - cpu0.host.total) / elapsed),
          },
        };
      } finally {
        await store.close?.();
      }
    } finally {
      await client.connection.close();
    }
  } finally {
    await Promise.all(children.map(stopWorker));
  }
}
