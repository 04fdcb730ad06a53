/** `vldm watch | status | list | cancel | fetch`: following and reading jobs on a Temporal server. */
import type { VldmConfig } from '../../config/config';
import { jobUiUrl } from '../../config/config';
import { parseInteger } from '../../config/values';
import { UserError } from '../../common/errors';
import { checkJobIdArg, checkOutputPath } from '../edge';
import { makeOut } from '../io';
import { cancelJob, connectTemporal, jobStatus, listJobs } from '../../client/jobs';
import { showProgress } from '../progress-view';
import { createStore, storeConfigFromUrl } from '../../storage';
import { writePreview } from '../../client/preview';
import { quote } from '../../common/quote';
import { WorkflowNotFoundError } from '@temporalio/client';

/** One check, one quoting for job ids on the command line (src/cli/edge.ts). */
const checkJobId = (id: string | undefined): string => checkJobIdArg(id);

/**
 * `vldm fetch <jobId> --preview`: the early preview of a job, running or not (src/client/preview.ts),
 * made here from the frames decoded so far; its rate comes from the job's memo.
 */
async function fetchPreview(
  jobId: string,
  outFile: string,
  out: ReturnType<typeof makeOut>,
  cfg: VldmConfig,
) {
  return withClient(cfg, async (client) => {
    let memo: Record<string, unknown> | undefined;
    try {
      memo = (await client.workflow.getHandle(jobId).describe()).memo;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new UserError(`no job ${quote(jobId)} on this Temporal server (see "vldm list")`);
      throw err;
    }
    const fps = typeof memo?.fps === 'number' ? memo.fps : undefined;
    if (fps === undefined)
      throw new UserError(`job ${quote(jobId)} has no frame rate in its memo (started by an older vldm?)`);
    const store = createStore(storeConfigFromUrl(cfg.store));
    try {
      const p = await writePreview(store, jobId, fps, outFile);
      if (!p)
        throw new UserError(
          `job ${quote(jobId)} has no decoded frames yet in ${store.description}; try again later`,
        );
      if (out.json)
        out.result({ jobId, preview: outFile, frames: p.frames, width: p.width, height: p.height, fps });
      else
        out.info(
          `wrote ${outFile}: preview of ${p.frames} frames ${p.width}×${p.height} @ ${fps} fps (decoded so far)`,
        );
      return 0;
    } finally {
      await store.close?.();
    }
  });
}

async function withClient<T>(
  cfg: VldmConfig,
  fn: (c: Awaited<ReturnType<typeof connectTemporal>>) => Promise<T>,
): Promise<T> {
  const client = await connectTemporal(cfg.temporalAddress, cfg.namespace);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

export async function watch(id: string, opts: { json?: boolean }, cfg: VldmConfig): Promise<number> {
  const jobId = checkJobId(id);
  const out = makeOut(Boolean(opts.json));
  return withClient(cfg, async (client) => {
    await jobStatus(client, jobId); // fails clearly for an unknown job
    out.info(`Temporal UI: ${jobUiUrl(cfg, jobId)}`);
    const view = await showProgress(client, jobId, cfg.natsUrl, { draw: !opts.json });
    await view.finished;
    await view.stop();
    const st = await jobStatus(client, jobId);
    if (opts.json)
      out.result({
        jobId,
        status: st.status,
        result: st.result,
        error: st.error,
        progressSource: view.source,
      });
    else out.info(`job ${jobId}: ${st.status}${st.error ? ` — ${st.error}` : ''}`);
    return st.status === 'COMPLETED' ? 0 : 1;
  });
}

export async function status(id: string, opts: { json?: boolean }, cfg: VldmConfig): Promise<number> {
  const jobId = checkJobId(id);
  const out = makeOut(Boolean(opts.json));
  return withClient(cfg, async (client) => {
    const st = await jobStatus(client, jobId);
    if (opts.json) out.result({ ...st, temporalUiUrl: jobUiUrl(cfg, jobId) });
    else {
      out.info(
        `job ${jobId}: ${st.status} (started ${st.startTime}${st.closeTime ? `, closed ${st.closeTime}` : ''})`,
      );
      if (st.stages) {
        for (const [stage, c] of Object.entries(st.stages))
          out.info(`  ${stage.padEnd(13)} ${c.done}/${c.total}${c.reused ? ` (${c.reused} reused)` : ''}`);
      }
      if (st.result)
        out.info(
          `  output: ${st.result.outputKey} (${st.result.frames} frames) — fetch with: vldm fetch ${jobId} --out video.mp4`,
        );
      if (st.error) out.info(`  error: ${st.error}`);
      out.info(`  Temporal UI: ${jobUiUrl(cfg, jobId)}`);
    }
    return 0;
  });
}

export async function list(opts: { json?: boolean; limit?: string }, cfg: VldmConfig): Promise<number> {
  const out = makeOut(Boolean(opts.json));
  // Decimal digits only, as every integer flag (`0x10` is refused, not read as 16).
  const limit = opts.limit === undefined ? 50 : parseInteger('--limit', opts.limit, 1, 10_000);
  return withClient(cfg, async (client) => {
    const jobs = await listJobs(client, limit);
    if (opts.json) out.result(jobs);
    else if (jobs.length === 0) out.info('no jobs');
    else for (const j of jobs) out.info(`${j.jobId.padEnd(40)} ${j.status.padEnd(11)} ${j.startTime}`);
    return 0;
  });
}

export async function cancel(id: string, _opts: unknown, cfg: VldmConfig): Promise<number> {
  const jobId = checkJobId(id);
  return withClient(cfg, async (client) => {
    await cancelJob(client, jobId);
    process.stdout.write(`cancellation requested for job ${jobId}\n`);
    return 0;
  });
}

export async function fetch(
  id: string,
  opts: { out?: string; json?: boolean; preview?: boolean },
  cfg: VldmConfig,
): Promise<number> {
  const jobId = checkJobId(id);
  const outFile = checkOutputPath(opts.out);
  const out = makeOut(Boolean(opts.json));
  if (opts.preview) return fetchPreview(jobId, outFile, out, cfg);
  return withClient(cfg, async (client) => {
    const st = await jobStatus(client, jobId);
    if (!st.result)
      throw new UserError(
        `job ${jobId} has no result yet (status ${st.status})${st.error ? `: ${st.error}` : ''}`,
      );
    const store = createStore(storeConfigFromUrl(cfg.store));
    try {
      await store.getToFile(st.result.outputKey, outFile);
    } finally {
      await store.close?.();
    }
    const r = {
      jobId,
      output: outFile,
      frames: st.result.frames,
      width: st.result.width,
      height: st.result.height,
      fps: st.result.fps,
      sha256: st.result.sha256,
    };
    if (opts.json) out.result(r);
    else out.info(`wrote ${outFile} (${r.frames} frames ${r.width}×${r.height} @ ${r.fps} fps)`);
    return 0;
  });
}
