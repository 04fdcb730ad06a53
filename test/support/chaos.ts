/**
 * Tools for the chaos tests (test/integration/chaos-*.test.ts), which damage a running job for real:
 * `vldm worker` processes that can be `kill -9`ed and replaced, stopping and restarting the shared
 * test servers (always restored), a record of a job's progress events from which recomputed work is
 * counted, undisturbed reference runs to compare bytes with, and a check of every stored artifact.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { compileJob, type JobFlags } from '../../src/cli/edge';
import { startJob, waitForJob } from '../../src/client/jobs';
import { devDown, type DevServerAddresses, type ServerKind } from '../../src/dev/servers';
import { subscribeProgress, type ProgressEvent, type Subscription } from '../../src/events';
import type { JobResult } from '../../workflows/job';
import { startCli } from './cli';
import { testServers, testStateDir } from './servers';

/** A seeded PRNG: the same seed gives the same kill moments and victims. */
export { seededRandom } from '../../src/common/random';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
