/**
 * `vldm gc [--older-than 7d] [--job <id>] [--dry-run] [--json]`: applies the retention rule to the
 * configured artifact store by hand (src/storage/gc.ts; docs/artifacts.md "Retention"): deletes the
 * intermediate artifacts of jobs finished at least `--older-than` ago (default: the `retention`
 * setting) and keeps each job's output, clips, keyframe chain, latents and spec. One line per job
 * while it runs, then a summary; with --json, one JSON object (the lines go to stderr).
 */
import { UserError } from '../../common/errors';
import { quote } from '../../common/quote';
import type { VldmConfig } from '../../config/config';
import { collectGarbage, createStore, storeConfigFromUrl, type JobGcReport, type Tally } from '../../storage';
import { checkJobIdArg } from '../edge';
import { makeOut } from '../io';
import { parseDuration } from '../../config/values';

export interface GcFlags {
  olderThan?: string;
  job?: string;
  dryRun?: boolean;
  json?: boolean;
}

const MB = 1e6;
const size = (t: Tally) => `${t.count} artifacts, ${(t.bytes / MB).toFixed(1)} MB`;

function line(r: JobGcReport, dryRun: boolean): string {
  const del = dryRun ? 'would delete' : 'deleted';
  switch (r.action) {
    case 'deleted': {
      const stages = Object.entries(r.deleted.byStage)
        .map(([s, t]) => `${s} ${t.count}`)
        .join(', ');
      return `${r.jobId}: finished ${r.finishedAt}; ${del} ${size(r.deleted)} (${stages}); kept ${size(r.kept)}`;
    }
    case 'restarted':
      return `${r.jobId}: a new run started while deleting; stopped after ${size(r.deleted)}, kept ${size(r.kept)}`;
    case 'retained':
      return `${r.jobId}: finished ${r.finishedAt}, kept until ${r.dueAt} (${size(r.kept)})`;
    case 'nothing-to-delete':
      return `${r.jobId}: finished ${r.finishedAt}, no intermediate artifacts left (${size(r.kept)} kept)`;
    case 'running':
      return `${r.jobId}: not finished (running, or its last run failed): kept ${size(r.kept)}`;
    case 'unknown':
      return `${r.jobId}: no run markers (a job from before vldm recorded them): kept ${size(r.kept)}`;
  }
}

export async function gc(opts: GcFlags, cfg: VldmConfig): Promise<number> {
  const jobId = opts.job === undefined ? undefined : checkJobIdArg(opts.job, '--job');
  // The flag is the `retention` setting's (src/config); "off" is a setting for the sweep, not an age.
  if (opts.olderThan !== undefined) parseDuration('--older-than', opts.olderThan);
  if (cfg.retention === 'off')
    throw new UserError(
      'retention is "off" in the configuration (VLDM_RETENTION or the config file): give --older-than, e.g. --older-than 7d',
    );
  const out = makeOut(Boolean(opts.json));
  const dryRun = Boolean(opts.dryRun);
  const store = createStore(storeConfigFromUrl(cfg.store));
  try {
    const report = await collectGarbage(store, {
      olderThanMs: cfg.retention,
      dryRun,
      ...(jobId !== undefined ? { jobId } : {}),
      onJob: (r) => out.info(line(r, dryRun)),
    });
    if (jobId !== undefined && report.jobs.length === 0)
      throw new UserError(`job ${quote(jobId)} has no artifacts in ${store.description}`);
    if (opts.json) out.result({ store: store.description, ...report });
    else {
      const jobs = report.jobs.filter((j) => j.action === 'deleted' || j.action === 'restarted').length;
      out.info(
        `${dryRun ? 'dry run: would delete' : 'deleted'} ${size(report.deleted)} of ${jobs} job${jobs === 1 ? '' : 's'}; kept ${size(report.kept)} (${report.jobs.length} job${report.jobs.length === 1 ? '' : 's'} in ${store.description})`,
      );
    }
    return 0;
  } finally {
    await store.close?.();
  }
}
