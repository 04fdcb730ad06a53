/**
 * Spot-style preemption of worker processes. A 1-segment job runs on three `vldm worker --queues all`
 * processes with periodic checkpoints off. While an upscale activity is in the middle of sampling
 * (seen from its progress events, and from the Temporal server's pending activities, which name the
 * worker process running it), that worker gets SIGTERM with a short grace time, shorter than the
 * activity: it must exit within the grace time plus a margin, the activity must save a checkpoint of
 * the step it reached (forced: periodic ones are off), and the retry on another worker must resume
 * after that step, so no sampling step is computed twice. The same moment with `kill -9` instead is
 * the control: no checkpoint, the retry starts over, and it only begins when the heartbeat timeout
 * declares the attempt dead. Both jobs must end with the bytes of an undisturbed run of the same spec.
 *
 * Reproduce: npx tsc -p . && npx vitest run test/integration/preemption.test.ts
 * (the measured numbers are printed as `[preempt] {...}` lines)
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServerAddresses } from '../../src/dev/servers';
import { compileJob } from '../../src/cli/edge';
import { connectTemporal, startJob, waitForJob } from '../../src/client/jobs';
import type { ArtifactStore } from '../../src/storage';
import { CHECKPOINT_EVERY_ENV } from '../../src/activity-runtime/checkpoints';
import { segName } from '../../src/activity-runtime/keys';
import { segmentWorkflowId } from '../../src/common/names';
import type { UpscaleInput } from '../../src/common/boundary';
import { testServers } from '../support/servers';
import { CONTRACT_PACK, s3Env, testS3Store } from '../support/pipeline';
import {
  fleetArgs,
  EventRecord,
  WorkerFleet,
  historyIncidents,
  lastFailureOf,
  packWithSampling,
  runJob,
  runningActivities,
  sleep,
  unitKey,
  watchKeys,
  type HistoryIncidents,
  type JobRun,
  type ManagedWorker,
} from '../support/chaos';

const BUCKET = 'vldm-chaos-preempt';
/** `--grace-seconds` of the workers: far shorter than one upscale activity (below). */
const GRACE_S = 2;
/**
 * A SIGTERMed worker must exit within GRACE_S + this: the step in flight ends (up to ~250 ms here),
 * the checkpoint is stored (~4 MB to MinIO) and the process closes its connections. Measured 1.0–1.7 s
 * beyond the grace time on the loaded 2-core test machine (load average 7–12), so 5 s is a clear margin.
 */
const EXIT_MARGIN_S = 5;
/**
 * Upsampler steps of the test's pack (the contract test pack's own 3 steps take milliseconds): with
 * 4 tiles sampling at once on 2 cores a step takes ~25 ms on an idle machine and ~250 ms on the loaded
 * test machine, so a tile samples for 6–60 s and the grace time runs out mid-sampling.
 */
const UPSCALE_STEPS = 240;
/**
 * Interrupt a tile that has done at least MIN_STEP steps (what a kill -9 then loses), and whose
 * remaining steps will by its own measured pace take at least REMAINING_GRACES grace times, so it
 * cannot finish within the grace.
 */
const MIN_STEP = 20;
const REMAINING_GRACES = 2;
/** Periodic checkpoints off (more than any activity's steps): only a forced one can save work. */
const NO_PERIODIC_CHECKPOINTS = 1_000;
// 1 s: one segment; 14 activities, 4 of them upscale tiles.
const job = { seconds: '1', scene: 'day', traffic: 'crowded', seed: '21' };
/**
 * Three workers have 6 upscale slots for the 4 tiles, so a retry finds a free slot at once and the
 * recovery time measures the system (how soon the interrupted attempt ends), not a queue of tiles.
 */
const WORKERS = 3;

let servers: DevServerAddresses;
let pack: string;
let fleet: WorkerFleet;
let store: ArtifactStore;
let client: Awaited<ReturnType<typeof connectTemporal>>;
let undisturbed: JobRun;
const reports: Record<string, Report> = {};

beforeAll(async () => {
  servers = await testServers();
  pack = packWithSampling(CONTRACT_PACK, { upsampler: { steps: UPSCALE_STEPS } });
  const args = fleetArgs(servers, { pack, bucket: BUCKET, graceSeconds: GRACE_S });
  fleet = new WorkerFleet(args, {
    ...s3Env(servers),
    [CHECKPOINT_EVERY_ENV]: String(NO_PERIODIC_CHECKPOINTS),
  });
  await Promise.all(Array.from({ length: WORKERS }, () => fleet.start()));
  client = await connectTemporal(servers.temporal!.address, servers.temporal!.namespace);
  store = testS3Store(servers, BUCKET);
});

afterAll(async () => {
  await client?.connection.close();
  await fleet?.stopAll();
  await store?.close?.();
  if (pack) rmSync(pack, { recursive: true, force: true });
});

interface Target {
  worker: ManagedWorker;
  unit: string;
  tile: number;
  activityId: string;
  /** The tile's newest progress step when the worker was caught. */
  step: number;
}

/**
 * Waits until a worker process runs an upscale tile that is mid-sampling (its progress events say it
 * has done MIN_STEP steps and has several grace times of steps left) and the Temporal server says
 * which worker process holds that activity.
 */
async function catchMidSampling(jobId: string, events: EventRecord, ended: () => boolean): Promise<Target> {
  const segment = segmentWorkflowId(jobId, 0);
  const mid = (u: { step: number; secondsPerStep?: number } | undefined) =>
    u !== undefined &&
    u.step >= MIN_STEP &&
    u.secondsPerStep !== undefined &&
    (UPSCALE_STEPS - u.step) * u.secondsPerStep >= REMAINING_GRACES * GRACE_S;
  for (;;) {
    if (ended())
      throw new Error(
        'the job ended before an upscale tile was caught mid-sampling: this machine samples so fast that UPSCALE_STEPS must grow',
      );
    if ([...events.inFlight('upscale').values()].some(mid)) {
      const running = await runningActivities(client, segment, 'upscale').catch(() => []);
      for (const r of running) {
        const tile = (r.input as UpscaleInput).tile.index;
        const unit = unitKey({ jobId, stage: 'upscale', segment: 0, tile, state: 'started', at: '' });
        const u = events.inFlight('upscale').get(unit);
        const worker = fleet.byPid(r.pid);
        if (worker && r.attempt === 1 && mid(u))
          return { worker, unit, tile, activityId: r.activityId, step: u!.step };
      }
    }
    await sleep(100);
  }
}

interface Report {
  mode: 'SIGTERM' | 'SIGKILL';
  sha256: string;
  bytesIdentical: boolean;
  tile: number;
  stepAtSignal: number;
  /** Progress steps of the interrupted tile, per attempt: [first, last] of each. */
  attempts: Array<[number, number]>;
  /** Steps of the interrupted tile computed twice. */
  tileStepsLost: number;
  /** Sampling steps of the whole job beyond the undisturbed run's. */
  jobStepsRecomputed: number;
  recomputedActivities: number;
  exitCode: number | null;
  exitSeconds: number;
  /** From the signal to the Temporal server recording the end of the interrupted attempt. */
  attemptEndedSeconds: number;
  /** From the signal to the interrupted tile's retry starting on another worker. */
  recoverySeconds: number;
  /** From the signal to the replacement worker polling (it is started once the old one is gone). */
  replacementReadySeconds: number;
  /** What the Temporal server recorded as the end of the interrupted attempt. */
  attemptEnded: Awaited<ReturnType<typeof lastFailureOf>>;
  checkpoints: string[];
  jobSeconds: number;
  /** Workflow tasks that timed out and activities retried, from the job's histories. */
  incidents: HistoryIncidents;
  /** What the signalled worker wrote from the signal on (nothing after `kill -9`). */
  victimLog: string[];
}

async function preempt(mode: Report['mode']): Promise<Report> {
  const { spec } = await compileJob({ ...job, name: `preempt-${mode.toLowerCase()}-${process.pid}` }, pack);
  const events = await EventRecord.start(servers.nats!.url, spec.jobId);
  const ckpts = watchKeys(store, `jobs/${spec.jobId}/`, /\.ckpt\//, 100);
  let finished = false;
  let replacement: Promise<unknown> | undefined;
  const t0 = Date.now();
  try {
    await startJob(client, spec);
    const done = waitForJob(client, spec.jobId).finally(() => (finished = true));
    done.catch(() => undefined);
    const target = await catchMidSampling(spec.jobId, events, () => finished);
    const signalled = Date.now();
    const logBefore = target.worker.log().length;
    let exit: { code: number | null; seconds: number };
    if (mode === 'SIGTERM') exit = await fleet.terminate(target.worker);
    else {
      await fleet.kill(target.worker);
      exit = { code: null, seconds: (Date.now() - signalled) / 1000 };
    }
    // The replacement starts once the old process is gone: on this 2-core machine its start-up
    // (bundling the workflows, loading models) would otherwise compete with the victim's shutdown
    // for CPU, which a real cluster does not do (the new pod lands on another node).
    let replacementReady = NaN;
    replacement = fleet.start().then(() => (replacementReady = Date.now()));
    replacement.catch(() => undefined); // awaited (and reported) below, after the job
    await Promise.race([events.until(() => events.startOf(target.unit, 2) !== undefined), done]);
    const attemptEnded = await lastFailureOf(client, segmentWorkflowId(spec.jobId, 0), target.activityId);
    const result = await done;
    await replacement;
    await ckpts.stop();
    const byAttempt = events.stepsByAttempt(target.unit);
    const retryStarted = events.startOf(target.unit, 2);
    const report: Report = {
      mode,
      sha256: result.sha256,
      bytesIdentical: Buffer.from(await store.get(result.outputKey)).equals(
        Buffer.from(await store.get(undisturbed.result.outputKey)),
      ),
      tile: target.tile,
      stepAtSignal: target.step,
      attempts: byAttempt.map((s) => [s[0] ?? 0, s[s.length - 1] ?? 0]),
      tileStepsLost: byAttempt.flat().length - UPSCALE_STEPS,
      jobStepsRecomputed: events.stepEvents() - undisturbed.events!.stepEvents(),
      recomputedActivities: events.recomputedActivities(),
      exitCode: exit.code,
      exitSeconds: exit.seconds,
      attemptEndedSeconds:
        attemptEnded?.endedAt === undefined ? NaN : (attemptEnded.endedAt - signalled) / 1000,
      recoverySeconds: retryStarted === undefined ? NaN : (retryStarted - signalled) / 1000,
      replacementReadySeconds: (replacementReady - signalled) / 1000,
      attemptEnded,
      checkpoints: [...ckpts.seen.keys()].map((k) => k.replace(/^.*\/upscale\//, '')),
      jobSeconds: (Date.now() - t0) / 1000,
      victimLog: target.worker
        .log()
        .slice(logBefore)
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/^\S+Z /, '')),
      incidents: await historyIncidents(client, [spec.jobId, segmentWorkflowId(spec.jobId, 0)]),
    };
    console.log(`[preempt] ${JSON.stringify({ test: 'preemption', graceSeconds: GRACE_S, ...report })}`);
    reports[mode] = report;
    return report;
  } finally {
    await ckpts.stop();
    await Promise.allSettled([replacement]);
    await events.stop();
    if (!finished)
      await client.workflow
        .getHandle(spec.jobId)
        .terminate('preemption test failed')
        .catch(() => undefined);
  }
}

/** The forced checkpoint the interrupted tile must have left: the step its first attempt reached. */
function forcedCheckpointOf(r: Report): RegExp {
  const tile = `${segName(0)}-tile${String(r.tile).padStart(4, '0')}-`;
  const step = String(r.attempts[0][1]).padStart(5, '0');
  return new RegExp(`^${tile}[0-9a-f]+\\.vldt\\.ckpt/sample/step-${step}\\.vldt$`);
}

describe('spot-style preemption of worker processes', () => {
  it('an undisturbed run of the spec on the same workers gives the reference bytes', async () => {
    undisturbed = await runJob(
      client,
      { ...job, name: `preempt-ref-${process.pid}` },
      pack,
      servers.nats!.url,
    );
    expect(undisturbed.events!.recomputedActivities()).toBe(0);
    expect(undisturbed.events!.maxStepsPerActivity()).toBe(UPSCALE_STEPS);
  }, 300_000);

  it(`SIGTERM with ${GRACE_S} s grace mid-sampling: the worker exits, its tile checkpoints and resumes elsewhere`, async () => {
    expect(undisturbed, 'the undisturbed run must pass first').toBeDefined();
    const r = await preempt('SIGTERM');
    expect(r.sha256).toBe(undisturbed.result.sha256);
    expect(r.bytesIdentical).toBe(true);
    // Graceful: exit code 0, after the grace time (the tile was still running), well within the bound.
    expect(r.exitCode).toBe(0);
    expect(r.exitSeconds).toBeGreaterThanOrEqual(GRACE_S - 0.1);
    expect(r.exitSeconds).toBeLessThanOrEqual(GRACE_S + EXIT_MARGIN_S);
    expect(r.victimLog.at(-1)).toBe('vldm worker stopped');
    // The tile was interrupted (not finished within the grace time) and retried once.
    expect(r.attempts, 'tile finished within the grace time: raise UPSCALE_STEPS').toHaveLength(2);
    expect(r.attempts[0][1]).toBeLessThan(UPSCALE_STEPS);
    // It saved the step it reached although periodic checkpoints are off...
    expect(
      r.checkpoints.some((k) => forcedCheckpointOf(r).test(k)),
      JSON.stringify(r.checkpoints),
    ).toBe(true);
    // ...and the retry resumed right after it: no step computed twice.
    expect(r.attempts[1][0]).toBe(r.attempts[0][1] + 1);
    expect(r.tileStepsLost).toBe(0);
    // The worker ended the attempt itself, so the retry did not wait for the heartbeat timeout.
    expect(r.attemptEnded?.timeout, JSON.stringify(r.attemptEnded)).toBeUndefined();
  }, 420_000);

  it('kill -9 at the same point loses the steps done; the forced checkpoint is what saved them', async () => {
    expect(reports.SIGTERM, 'the SIGTERM case must pass first').toBeDefined();
    const r = await preempt('SIGKILL');
    expect(r.sha256).toBe(undisturbed.result.sha256);
    expect(r.bytesIdentical).toBe(true);
    expect(r.attempts).toHaveLength(2);
    // No checkpoint at all (periodic ones are off, and a killed process saves nothing)...
    expect(r.checkpoints).toEqual([]);
    // ...so the retry starts over, after the heartbeat timeout declared the attempt dead.
    expect(r.attempts[1][0]).toBe(1);
    expect(r.tileStepsLost).toBeGreaterThanOrEqual(MIN_STEP);
    expect(r.attemptEnded?.timeout).toBe('TIMEOUT_TYPE_HEARTBEAT');
    // The comparison the issue asks for.
    const term = reports.SIGTERM;
    expect(term.tileStepsLost).toBeLessThan(r.tileStepsLost);
    expect(term.jobStepsRecomputed).toBeLessThan(r.jobStepsRecomputed);
    console.log(
      `[preempt] ${JSON.stringify({
        test: 'preemption-summary',
        stepsRecomputed: { sigterm: term.jobStepsRecomputed, kill9: r.jobStepsRecomputed },
        tileStepsLost: { sigterm: term.tileStepsLost, kill9: r.tileStepsLost },
        exitSeconds: { sigterm: term.exitSeconds, grace: GRACE_S },
        attemptEndedSeconds: { sigterm: term.attemptEndedSeconds, kill9: r.attemptEndedSeconds },
        recoverySeconds: { sigterm: term.recoverySeconds, kill9: r.recoverySeconds },
        jobSeconds: { undisturbed: undisturbed.seconds, sigterm: term.jobSeconds, kill9: r.jobSeconds },
      })}`,
    );
  }, 420_000);
});
