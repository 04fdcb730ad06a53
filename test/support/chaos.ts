/**
 * Tools for the chaos tests (test/integration/chaos-*.test.ts), which damage a running job for real:
 * `vldm worker` processes that can be `kill -9`ed and replaced, stopping and restarting the shared
 * test servers (always restored), a record of a job's progress events from which recomputed work is
 * counted, undisturbed reference runs to compare bytes with, and a check of every stored artifact.
 * For the preemption test: graceful `SIGTERM`s, which worker process runs which activity (from the
 * Temporal server's view of pending activities), watching checkpoint objects appear, and a slower
 * variant of the contract test pack whose sampling activities last long enough to be interrupted.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { compileJob, type JobFlags } from '../../src/cli/edge';
import { startJob, waitForJob } from '../../src/client/jobs';
import { devDown, type DevServerAddresses, type ServerKind } from '../../src/dev/servers';
import { subscribeProgress, type ProgressEvent, type Subscription } from '../../src/events';
import type { ArtifactStore } from '../../src/storage';
import type { JobResult } from '../../src/common/boundary';
import { startCli } from './cli';
import { testServers, testStateDir } from './servers';

/** A seeded PRNG: the same seed gives the same kill moments and victims. */
export { seededRandom } from '../../src/common/random';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CLI flags that point any `vldm` command at the shared test servers, the test state folder and a pack. */
export function serverArgs(servers: DevServerAddresses, pack: string): string[] {
  return [
    '--temporal-address',
    servers.temporal!.address,
    '--nats',
    servers.nats!.url,
    '--state-dir',
    testStateDir(),
    '--pack',
    pack,
  ];
}

/**
 * `vldm worker` flags for a fleet on the shared test servers (serverArgs), the S3 store under
 * `s3://<bucket>/artifacts` (testS3Store) and the shutdown grace.
 */
export function fleetArgs(
  servers: DevServerAddresses,
  opts: { pack: string; bucket: string; graceSeconds: number },
): string[] {
  return [
    ...serverArgs(servers, opts.pack),
    '--store',
    `s3://${opts.bucket}/artifacts`,
    '--grace-seconds',
    String(opts.graceSeconds),
  ];
}

export interface ManagedWorker {
  id: number;
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

/**
 * `vldm worker` processes of one test: started, killed and replaced, all stopped at the end. With
 * `supervise`, a worker that exits on its own (not killed or stopped here) is restarted, as a
 * Kubernetes Deployment would, and recorded in `unexpectedExits`.
 */
export class WorkerFleet {
  readonly workers: ManagedWorker[] = [];
  readonly unexpectedExits: Array<{ id: number; code: number | null; at: number; log: string }> = [];
  private next = 1;
  private stopping = false;
  private readonly ended = new Set<number>();

  constructor(
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly opts: { supervise?: boolean } = {},
  ) {}

  /** Starts one more worker process and waits until it polls. */
  async start(): Promise<ManagedWorker> {
    const id = this.next++;
    const { child, log } = await startCli(
      ['worker', '--queues', 'all', ...this.args],
      this.env,
      /vldm worker ready/,
      180_000,
    );
    const exited =
      child.exitCode !== null
        ? Promise.resolve(child.exitCode)
        : (once(child, 'exit') as Promise<[number | null]>).then(([code]) => code);
    const w = { id, child, log, exited };
    this.workers.push(w);
    if (this.opts.supervise) {
      void exited.then((code) => {
        if (this.stopping || this.ended.has(id)) return;
        this.unexpectedExits.push({ id, code, at: Date.now(), log: log().slice(-2_000) });
        void this.restart();
      });
    }
    return w;
  }

  /** Starts a replacement, retrying every 2 s (e.g. while the Temporal server is still down). */
  private async restart(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.start();
        return;
      } catch {
        await sleep(2_000);
      }
    }
  }

  live(): ManagedWorker[] {
    return this.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  }

  /** `kill -9`: no shutdown, no flush, running activities vanish mid-step. */
  async kill(w: ManagedWorker): Promise<void> {
    this.ended.add(w.id);
    w.child.kill('SIGKILL');
    await w.exited;
  }

  /**
   * `SIGTERM`, as Kubernetes sends on pod termination or a spot reclaim notice: the worker stops
   * polling, gives running activities its grace time, and exits. Resolves with its exit code, or
   * null when it had to be killed after `killAfterMs` (a worker that does not exit is a failure the
   * caller reports, not a hang of the test).
   */
  async terminate(w: ManagedWorker, killAfterMs = 60_000): Promise<{ code: number | null; seconds: number }> {
    this.ended.add(w.id);
    const t0 = Date.now();
    w.child.kill('SIGTERM');
    const timer = setTimeout(() => w.child.kill('SIGKILL'), killAfterMs);
    const code = await w.exited;
    clearTimeout(timer);
    return { code, seconds: (Date.now() - t0) / 1000 };
  }

  /** The live worker whose process id is `pid`. */
  byPid(pid: number): ManagedWorker | undefined {
    return this.live().find((w) => w.child.pid === pid);
  }

  /** Stops every live worker (SIGTERM, then SIGKILL after `graceMs`). */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.live().map(async (w) => {
        w.child.kill('SIGTERM');
        const timer = setTimeout(() => w.child.kill('SIGKILL'), graceMs);
        await w.exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** What identifies one unit of work in progress events (an activity's output). */
export function unitKey(e: ProgressEvent): string {
  return [e.stage, e.segment ?? '-', e.window ?? '-', e.tile ?? '-', e.message ?? ''].join('/');
}

/** A job's progress events as NATS delivered them, with when each arrived. */
export class EventRecord {
  readonly events: Array<ProgressEvent & { received: number }> = [];
  private sub?: Subscription;
  private listeners: Array<() => void> = [];

  static async start(natsUrl: string, jobId: string): Promise<EventRecord> {
    const r = new EventRecord();
    const sub = await subscribeProgress(natsUrl, jobId, (e) => {
      r.events.push({ ...e, received: Date.now() });
      for (const l of r.listeners) l();
    });
    if (!sub) throw new Error(`cannot subscribe to progress events at ${natsUrl}`);
    r.sub = sub;
    return r;
  }

  async stop(): Promise<void> {
    await this.sub?.close();
  }

  /** Units whose output was stored (state completed). */
  completed(): number {
    return new Set(this.events.filter((e) => e.state === 'completed').map(unitKey)).size;
  }

  /** Resolves once `predicate` holds (checked on every event). */
  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (predicate()) {
          this.listeners = this.listeners.filter((l) => l !== check);
          resolve();
        }
      };
      this.listeners.push(check);
    });
  }

  /** 'started' events per unit: an activity attempt that began computing (not a checkpoint hit). */
  startsPerUnit(): Map<string, number> {
    const m = new Map<string, number>();
    for (const e of this.events) if (e.state === 'started') m.set(unitKey(e), (m.get(unitKey(e)) ?? 0) + 1);
    return m;
  }

  /** Activities computed more than once: Σ over units of (attempts that started − 1). */
  recomputedActivities(): number {
    let n = 0;
    for (const c of this.startsPerUnit().values()) n += c - 1;
    return n;
  }

  /** Sampling steps reported (one 'progress' event per model evaluation). */
  stepEvents(): number {
    return this.events.filter((e) => e.state === 'progress' && e.step !== undefined).length;
  }

  /** The most steps one activity reports (for bounds: one activity's worth of work). */
  maxStepsPerActivity(): number {
    return Math.max(0, ...this.events.filter((e) => e.steps !== undefined).map((e) => e.steps as number));
  }

  /** The progress steps `unit` reported, one list per attempt that started computing. */
  stepsByAttempt(unit: string): number[][] {
    const out: number[][] = [];
    for (const e of this.events) {
      if (unitKey(e) !== unit) continue;
      if (e.state === 'started') out.push([]);
      else if (e.state === 'progress' && e.step !== undefined && out.length) out[out.length - 1].push(e.step);
    }
    return out;
  }

  /**
   * Units of `stage` that have started but not completed: the newest progress step of each, and the
   * seconds per step it has taken so far (once it has reported two steps).
   */
  inFlight(stage: ProgressEvent['stage']): Map<string, { step: number; secondsPerStep?: number }> {
    const m = new Map<
      string,
      { step: number; first?: { step: number; at: number }; secondsPerStep?: number }
    >();
    for (const e of this.events) {
      if (e.stage !== stage) continue;
      const k = unitKey(e);
      if (e.state === 'completed') m.delete(k);
      else if (e.state === 'started') m.set(k, { step: 0 });
      else if (e.state === 'progress' && e.step !== undefined && m.has(k)) {
        const u = m.get(k)!;
        u.step = e.step;
        u.first ??= { step: e.step, at: e.received };
        if (e.step > u.first.step)
          u.secondsPerStep = (e.received - u.first.at) / 1000 / (e.step - u.first.step);
      }
    }
    return new Map(
      [...m].map(([k, u]) => [
        k,
        { step: u.step, ...(u.secondsPerStep ? { secondsPerStep: u.secondsPerStep } : {}) },
      ]),
    );
  }

  /** When the `n`-th (1-based) attempt of `unit` started computing, as received here. */
  startOf(unit: string, n: number): number | undefined {
    return this.events.filter((e) => e.state === 'started' && unitKey(e) === unit)[n - 1]?.received;
  }

  /**
   * For each retried unit, seconds from the last of `moments` (e.g. kills) before its retry began
   * to that retry's 'started' event: how long the system took to pick the lost work up again.
   */
  retries(moments: number[]): Array<{ unit: string; seconds: number }> {
    const seen = new Map<string, number>();
    const out: Array<{ unit: string; seconds: number }> = [];
    for (const e of this.events) {
      if (e.state !== 'started') continue;
      const k = unitKey(e);
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      if (n < 2) continue;
      const before = moments.filter((m) => m <= e.received);
      if (before.length)
        out.push({ unit: k, seconds: Math.round((e.received - Math.max(...before)) / 100) / 10 });
    }
    return out;
  }
}

/**
 * Waits for a job's result across a Temporal outage: a lost connection is retried every second (the
 * client reconnects by itself); a job that failed is an error at once.
 */
export async function waitForJobThroughOutages(
  client: Client,
  jobId: string,
  timeoutMs = 600_000,
): Promise<JobResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await waitForJob(client, jobId);
    } catch (err) {
      if (err instanceof WorkflowFailedError || Date.now() > deadline) throw err;
      await sleep(1_000);
    }
  }
}

export interface JobRun {
  jobId: string;
  result: JobResult;
  seconds: number;
  events?: EventRecord;
}

/** Runs a job to its end on whatever workers serve the test Temporal, recording its events when asked. */
export async function runJob(
  client: Client,
  flags: JobFlags,
  pack: string,
  natsUrl?: string,
): Promise<JobRun> {
  const { spec } = await compileJob(flags, pack);
  const events = natsUrl ? await EventRecord.start(natsUrl, spec.jobId) : undefined;
  const t0 = Date.now();
  try {
    await startJob(client, spec);
    const result = await waitForJob(client, spec.jobId);
    return { jobId: spec.jobId, result, seconds: (Date.now() - t0) / 1000, ...(events ? { events } : {}) };
  } finally {
    await events?.stop();
  }
}

/**
 * Stops shared test servers for the duration of `during` and always starts them again (same ports,
 * same data) before returning, also when `during` throws: later test files use them.
 */
export async function withServersStopped<T>(
  kinds: ServerKind[],
  during: () => Promise<T>,
): Promise<{ value: T; downSeconds: number; restartSeconds: number }> {
  const stateDir = testStateDir();
  const stopped = await devDown({ stateDir, kinds });
  if (stopped.length !== kinds.length)
    throw new Error(
      `expected to stop ${kinds.join(', ')} from ${stateDir}, stopped ${stopped.join(', ') || 'nothing'}`,
    );
  const down = Date.now();
  let up: number;
  let value: T;
  try {
    value = await during();
  } finally {
    up = Date.now();
    await testServers();
  }
  return { value, downSeconds: (up - down) / 1000, restartSeconds: (Date.now() - up) / 1000 };
}

export interface ArtifactCheck {
  objects: number;
  bytes: number;
  /** Objects whose bytes do not hash to their recorded sha256, or that have none. */
  bad: Array<{ key: string; problem: string }>;
}

/**
 * Lists every object under `prefix` in the bucket straight from S3 (not through the artifact store,
 * which hides what it cannot verify) and checks each one's bytes against its sha256 metadata.
 */
export async function verifyBucket(
  servers: DevServerAddresses,
  bucket: string,
  prefix: string,
): Promise<ArtifactCheck> {
  const m = servers.minio!;
  const s3 = new S3Client({
    endpoint: m.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: m.accessKeyId, secretAccessKey: m.secretAccessKey },
  });
  const out: ArtifactCheck = { objects: 0, bytes: 0, bad: [] };
  try {
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        const key = o.Key!;
        out.objects += 1;
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        const recorded = head.Metadata?.sha256;
        const body = await (
          await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        ).Body!.transformToByteArray();
        out.bytes += body.length;
        const actual = createHash('sha256').update(body).digest('hex');
        if (!recorded) out.bad.push({ key, problem: 'no sha256 metadata' });
        else if (recorded !== actual)
          out.bad.push({ key, problem: `sha256 ${actual} but ${recorded} recorded` });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    s3.destroy();
  }
  return out;
}

/** An activity of a workflow that a worker has picked up (state STARTED on the Temporal server). */
export interface RunningActivity {
  activityId: string;
  attempt: number;
  /** The process id in the worker's identity (the SDK's default identity is `<pid>@<host>`). */
  pid: number;
  /** The activity's first argument, as the workflow scheduled it. */
  input: unknown;
}

/**
 * The activities of type `activityType` that workers are running for `workflowId` right now, and
 * which worker process runs each: the Temporal server's pending-activity view names the worker,
 * the workflow history holds the input (unencrypted in the tests).
 */
export async function runningActivities(
  client: Client,
  workflowId: string,
  activityType: string,
): Promise<RunningActivity[]> {
  const handle = client.workflow.getHandle(workflowId);
  const { raw } = await handle.describe();
  const started = (raw.pendingActivities ?? []).filter(
    (a) =>
      a.activityType?.name === activityType &&
      a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
  );
  if (started.length === 0) return [];
  const inputs = new Map<string, unknown>();
  for (const e of (await handle.fetchHistory()).events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a?.activityId && a.input?.payloads?.length)
      inputs.set(a.activityId, defaultPayloadConverter.fromPayload(a.input.payloads[0]));
  }
  return started.map((a) => ({
    activityId: a.activityId ?? '',
    attempt: a.attempt ?? 0,
    pid: Number(/^(\d+)@/.exec(a.lastWorkerIdentity ?? '')?.[1]),
    input: inputs.get(a.activityId ?? ''),
  }));
}

/** What the Temporal server says ended an activity's previous attempt, while it is still pending. */
export async function lastFailureOf(
  client: Client,
  workflowId: string,
  activityId: string,
): Promise<
  { attempt: number; endedAt?: number; message?: string; timeout?: string; type?: string } | undefined
> {
  const { raw } = await client.workflow.getHandle(workflowId).describe();
  const a = (raw.pendingActivities ?? []).find((p) => p.activityId === activityId);
  if (!a) return undefined;
  const f = a.lastFailure;
  const timeoutType = f?.timeoutFailureInfo?.timeoutType;
  const ended = a.lastAttemptCompleteTime;
  return {
    attempt: a.attempt ?? 0,
    // When the server recorded the end of the previous attempt (ms since the epoch).
    ...(ended?.seconds != null
      ? { endedAt: Number(String(ended.seconds)) * 1000 + Math.round((ended.nanos ?? 0) / 1e6) }
      : {}),
    ...(f?.message ? { message: f.message } : {}),
    ...(timeoutType ? { timeout: temporal.api.enums.v1.TimeoutType[timeoutType] } : {}),
    ...(f?.applicationFailureInfo?.type ? { type: f.applicationFailureInfo.type } : {}),
  };
}

/**
 * Records every key under `prefix` that matches `pattern` while it exists (polled every `everyMs`):
 * in-flight checkpoints live only until their activity's output is stored.
 */
export function watchKeys(
  store: ArtifactStore,
  prefix: string,
  pattern: RegExp,
  everyMs = 200,
): { seen: Map<string, number>; stop: () => Promise<void> } {
  const seen = new Map<string, number>();
  let stopped = false;
  const poll = async () => {
    for (;;) {
      try {
        for (const a of await store.list(prefix))
          if (pattern.test(a.key) && !seen.has(a.key)) seen.set(a.key, Date.now());
      } catch {
        // a listing that fails is retried at the next poll
      }
      if (stopped) return;
      await sleep(everyMs);
    }
  };
  const running = poll();
  return {
    seen,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

/**
 * A copy of a pack (same ONNX files, so the same digest) with other sampling settings, in a temporary
 * folder: e.g. more upsampler steps, so that a tile takes seconds even with the fast contract models.
 */
export function packWithSampling(pack: string, sampling: Record<string, Record<string, number>>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vldm-pack-'));
  cpSync(pack, dir, { recursive: true });
  const manifestPath = path.join(dir, 'vldm-pack.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    sampling: Record<string, Record<string, number>>;
  };
  for (const [role, settings] of Object.entries(sampling))
    manifest.sampling[role] = { ...manifest.sampling[role], ...settings };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  return dir;
}

/** What a workflow's history says went wrong: workflow tasks that timed out, activities retried. */
export interface HistoryIncidents {
  workflowTaskTimeouts: Array<{ workflowId: string; timeout: string; at: number }>;
  retriedActivities: Array<{
    workflowId: string;
    activityType: string;
    attempt: number;
    lastFailure: string;
  }>;
}

/** The incidents recorded in the histories of `workflowIds` (e.g. a job and its segment children). */
export async function historyIncidents(client: Client, workflowIds: string[]): Promise<HistoryIncidents> {
  const out: HistoryIncidents = { workflowTaskTimeouts: [], retriedActivities: [] };
  const { EventType, TimeoutType } = temporal.api.enums.v1;
  for (const workflowId of workflowIds) {
    const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const typeOf = new Map<number, string>();
    for (const e of events) {
      const at =
        Number(String(e.eventTime?.seconds ?? 0)) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)
        out.workflowTaskTimeouts.push({
          workflowId,
          timeout: TimeoutType[e.workflowTaskTimedOutEventAttributes?.timeoutType ?? 0],
          at,
        });
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) typeOf.set(Number(String(e.eventId)), scheduled.activityType?.name ?? '?');
      const started = e.activityTaskStartedEventAttributes;
      if (started && (started.attempt ?? 1) > 1) {
        const f = started.lastFailure;
        const timeout = f?.timeoutFailureInfo?.timeoutType;
        out.retriedActivities.push({
          workflowId,
          activityType: typeOf.get(Number(String(started.scheduledEventId))) ?? '?',
          attempt: started.attempt ?? 0,
          lastFailure: timeout
            ? TimeoutType[timeout]
            : (f?.applicationFailureInfo?.type ?? f?.message ?? '?'),
        });
      }
    }
  }
  return out;
}
