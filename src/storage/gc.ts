/**
 * The retention rule, run over an artifact store (`vldm gc`, docs/artifacts.md "Retention"): for each
 * job whose latest run finished at least `olderThanMs` ago, delete its intermediate artifacts
 * (retention.ts) and keep the rest. Jobs that are running, died, or left no markers are never touched.
 * The job's markers are read again before every batch of deletions, so a rerun that starts while gc
 * works on its job stops the deletion there.
 */
import { jobPrefix } from '../common/names';
import { artifactClass, artifactStage } from './retention';
import { jobState } from './job-markers';
import type { ArtifactInfo, ArtifactStore } from './types';

/** Deletions between two re-reads of the job's markers. */
const RECHECK_EVERY = 64;

export interface Tally {
  count: number;
  bytes: number;
}

export type JobAction =
  /** its intermediates were deleted (or, with dryRun, would be) */
  | 'deleted'
  /** finished long enough ago, but nothing intermediate is left */
  | 'nothing-to-delete'
  /** finished less than olderThan ago */
  | 'retained'
  /** its latest run has not finished (running, or died) */
  | 'running'
  /** no markers: from before vldm wrote them, or never prepared */
  | 'unknown'
  /** a new run started while gc was deleting; the rest is kept */
  | 'restarted';

export interface JobGcReport {
  jobId: string;
  action: JobAction;
  finishedAt?: string;
  /** When the job's intermediates become due (finishedAt + olderThan), for retained jobs. */
  dueAt?: string;
  deleted: Tally & { byStage: Record<string, Tally> };
  kept: Tally;
}

export interface GcReport {
  dryRun: boolean;
  olderThanMs: number;
  at: string;
  jobs: JobGcReport[];
  deleted: Tally;
  kept: Tally;
}

export interface GcOptions {
  /** Age of a job's finish after which its intermediates go. */
  olderThanMs: number;
  /** Only this job. */
  jobId?: string;
  /** Report what would be deleted; delete nothing. */
  dryRun?: boolean;
  now?: Date;
  /** Called once per job, after it is done (progress). */
  onJob?: (report: JobGcReport) => void;
}

const tally = (items: ArtifactInfo[]): Tally => ({
  count: items.length,
  bytes: items.reduce((s, a) => s + a.size, 0),
});

/** Job ids that have artifacts in the store, sorted, with their artifacts. */
async function jobsOf(store: ArtifactStore, jobId?: string): Promise<Map<string, ArtifactInfo[]>> {
  const all = await store.list(jobId === undefined ? 'jobs/' : jobPrefix(jobId));
  const jobs = new Map<string, ArtifactInfo[]>();
  for (const a of all) {
    const id = a.key.split('/')[1];
    if (id) jobs.set(id, [...(jobs.get(id) ?? []), a]);
  }
  return jobs;
}

async function sweepJob(
  store: ArtifactStore,
  jobId: string,
  artifacts: ArtifactInfo[],
  opts: GcOptions,
  now: Date,
): Promise<JobGcReport> {
  const intermediate = artifacts.filter((a) => artifactClass(a.key) === 'intermediate');
  const report: JobGcReport = {
    jobId,
    action: 'unknown',
    deleted: { count: 0, bytes: 0, byStage: {} },
    kept: tally(artifacts),
  };
  const state = await jobState(store, jobId);
  if (state.state !== 'finished') {
    report.action = state.state;
    return report;
  }
  report.finishedAt = state.finishedAt.toISOString();
  const due = new Date(state.finishedAt.getTime() + opts.olderThanMs);
  if (due > now) {
    report.action = 'retained';
    report.dueAt = due.toISOString();
    return report;
  }
  if (intermediate.length === 0) {
    report.action = 'nothing-to-delete';
    return report;
  }
  report.action = 'deleted';
  const gone = new Set<string>();
  for (const [i, a] of intermediate.entries()) {
    if (i > 0 && i % RECHECK_EVERY === 0) {
      const again = await jobState(store, jobId);
      if (again.state !== 'finished' || again.marker.run !== state.marker.run) {
        report.action = 'restarted';
        break;
      }
    }
    if (!opts.dryRun) await store.delete(a.key);
    gone.add(a.key);
    const stage = artifactStage(a.key);
    const s = (report.deleted.byStage[stage] ??= { count: 0, bytes: 0 });
    s.count++;
    s.bytes += a.size;
    report.deleted.count++;
    report.deleted.bytes += a.size;
  }
  report.kept = tally(artifacts.filter((a) => !gone.has(a.key)));
  return report;
}

/** Apply the retention rule to every job in the store (or one). */
export async function collectGarbage(store: ArtifactStore, opts: GcOptions): Promise<GcReport> {
  const now = opts.now ?? new Date();
  const jobs = await jobsOf(store, opts.jobId);
  const report: GcReport = {
    dryRun: opts.dryRun ?? false,
    olderThanMs: opts.olderThanMs,
    at: now.toISOString(),
    jobs: [],
    deleted: { count: 0, bytes: 0 },
    kept: { count: 0, bytes: 0 },
  };
  for (const [jobId, artifacts] of jobs) {
    const r = await sweepJob(store, jobId, artifacts, opts, now);
    report.jobs.push(r);
    report.deleted.count += r.deleted.count;
    report.deleted.bytes += r.deleted.bytes;
    report.kept.count += r.kept.count;
    report.kept.bytes += r.kept.bytes;
    opts.onJob?.(r);
  }
  return report;
}

/** How often a media worker applies the retention rule (vldm worker; docs/artifacts.md "Retention"). */
export const RETENTION_SWEEP_EVERY_MS = 3_600_000;
/** The first sweep waits this long after the worker starts, so it never competes with warm-up. */
export const RETENTION_SWEEP_FIRST_MS = 60_000;

/**
 * Applies the retention rule every RETENTION_SWEEP_EVERY_MS until stopped. A failed sweep is logged
 * and tried again at the next one: retention is housekeeping, never a reason to stop serving jobs.
 */
export function startRetentionSweeper(
  store: ArtifactStore,
  olderThanMs: number,
  log: (line: string) => void,
): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const sweep = () => {
    if (running) return;
    running = collectGarbage(store, { olderThanMs })
      .then((r) => {
        if (r.deleted.count > 0)
          log(
            `retention: deleted ${r.deleted.count} intermediate artifacts (${r.deleted.bytes} bytes) of ${r.jobs.filter((j) => j.action === 'deleted').length} finished jobs`,
          );
      })
      .catch((err: unknown) =>
        log(`retention sweep failed (tried again in an hour): ${(err as Error).message}`),
      )
      .finally(() => (running = undefined));
  };
  const first = setTimeout(sweep, RETENTION_SWEEP_FIRST_MS);
  const every = setInterval(sweep, RETENTION_SWEEP_EVERY_MS);
  first.unref();
  every.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(every);
      await running;
    },
  };
}
