/**
 * `vldm submit`: validate a job against its pack and start it on a running cluster's Temporal. With
 * `--init-image`, the image is first uploaded to the artifact store the workers use (`--store`).
 */
import { mkdirSync } from 'node:fs';
import type { VldmConfig } from '../../config/config';
import { jobUiUrl } from '../../config/config';
import { compileJob, type JobFlags } from '../edge';
import { makeOut } from '../io';
import { connectTemporal, startJob } from '../../client/jobs';
import { uploadInitImage } from '../../client/init-image';
import { createStore, storeConfigFromUrl } from '../../storage';

export async function submit(
  opts: JobFlags & { json?: boolean; workerPack?: string },
  cfg: VldmConfig,
): Promise<number> {
  const out = makeOut(Boolean(opts.json));
  const storeCfg = storeConfigFromUrl(cfg.store);
  // A store given (--store, VLDM_STORE, config) is the only one whose workers may serve the job; with
  // none, the job names no store, as jobs did before (src/common/fleet.ts).
  const identity = cfg.storeGiven ? createStore(storeCfg).identity : undefined;
  const { spec, plan, initImage } = await compileJob(opts, cfg.pack, opts.workerPack, identity);
  const client = await connectTemporal(cfg.temporalAddress, cfg.namespace);
  try {
    if (initImage) {
      // Only now, with every check passed and Temporal reachable, is anything written.
      if (storeCfg.kind === 'local') mkdirSync(storeCfg.root, { recursive: true });
      const store = createStore(storeCfg);
      try {
        await uploadInitImage(store, spec, initImage);
      } finally {
        await store.close?.();
      }
    }
    const started = await startJob(client, spec);
    const result = {
      jobId: spec.jobId,
      runId: started.runId,
      attached: !started.started,
      frames: plan.frames,
      segments: plan.segments.length,
      activities: plan.counts.total,
      temporalUiUrl: jobUiUrl(cfg, spec.jobId),
    };
    if (opts.json) out.result(result);
    else {
      out.info(
        `${started.started ? 'started' : 'already running:'} job ${spec.jobId} (${plan.frames} frames, ${plan.segments.length} segments, ${plan.counts.total} activities)`,
      );
      out.info(`watch: vldm watch ${spec.jobId}`);
      out.info(`Temporal UI: ${result.temporalUiUrl}`);
    }
    return 0;
  } finally {
    await client.connection.close();
  }
}
