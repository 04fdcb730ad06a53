/**
 * `vldm generate`: the embedded default. Starts (or reuses) the local Temporal dev server and NATS,
 * runs every worker in this process against a local artifact folder, submits the job, draws its
 * progress and writes the MP4. The servers stay up afterwards so the job can be read in the
 * Temporal UI; `vldm dev down` stops them.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { SEARCH_ATTRIBUTES, QUEUE_ROLES } from '../../common/names';
import type { VldmConfig } from '../../config/config';
import { jobUiUrl } from '../../config/config';
import { checkOutputPath, compileJob, type JobFlags } from '../edge';
import { makeOut } from '../io';
import { devUp } from '../../dev/servers';
import { createStore, storeConfigFromUrl } from '../../storage';
import { connectEventBus } from '../../events';
import { startWorkers } from '../../worker/workers';
import { connectTemporal, startJob, waitForJob } from '../../client/jobs';
import { startPreviewLoop, type Preview } from '../../client/preview';
import { uploadInitImage } from '../../client/init-image';
import { showProgress } from '../progress-view';
import { findTool } from '../../dev/tools';
import { ACCELERATOR_ENV, EmulatedAccelerators, parseAcceleratorSettings } from '../../bench/accelerator';
import { UserError } from '../../common/errors';

/**
 * The call ledger of src/bench/model-compute.ts, when it runs this command: every model call
 * recorded with its uncontended time, nothing held. Emulated accelerators that hold calls belong to
 * `vldm bench`'s workers, not to this one process.
 */
function callLedger(): EmulatedAccelerators | undefined {
  const raw = process.env[ACCELERATOR_ENV];
  if (!raw) return undefined;
  const settings = parseAcceleratorSettings(raw);
  if (settings.hold !== false)
    throw new UserError(
      `${ACCELERATOR_ENV}: generate only records model calls ("hold": false); emulated accelerators are vldm bench's`,
    );
  return new EmulatedAccelerators(settings);
}

export interface GenerateOptions extends JobFlags {
  out?: string;
  json?: boolean;
}

/** Exit codes of a command stopped by a signal, as shells report them (128 + the signal's number). */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof SIGNAL_EXIT;

/** Resolves with the first SIGINT/SIGTERM; `dispose` removes the handlers. */
function onStopSignal(): { signal: Promise<StopSignal>; dispose(): void } {
  let handlers: Array<[StopSignal, () => void]> = [];
  const signal = new Promise<StopSignal>((resolve) => {
    handlers = (Object.keys(SIGNAL_EXIT) as StopSignal[]).map((sig) => [sig, () => resolve(sig)]);
    for (const [sig, h] of handlers) process.once(sig, h);
  });
  return { signal, dispose: () => handlers.forEach(([sig, h]) => process.removeListener(sig, h)) };
}

export async function generate(opts: GenerateOptions, cfg: VldmConfig): Promise<number> {
  const out = makeOut(Boolean(opts.json));
  // Everything a user can get wrong is checked before any server starts or any file is written.
  const outFile = checkOutputPath(opts.out);
  // Created (nothing contacted, nothing written) first: the job names this store, and only the
  // workers of this state folder's store (or of the configured one) serve it (src/common/fleet.ts).
  const storeCfg = storeConfigFromUrl(cfg.store);
  const store = createStore(storeCfg);
  const { spec, plan, initImage } = await compileJob(opts, cfg.pack, undefined, store.identity);
  const ledger = callLedger();

  const useNats = cfg.natsUrl !== 'off' && findTool('nats-server') !== undefined;
  const port = (hostPort: string) => Number(hostPort.split(':').pop());
  const addresses = await devUp({
    stateDir: cfg.stateDir,
    kinds: useNats ? ['temporal', 'nats'] : ['temporal'],
    searchAttributes: { ...SEARCH_ATTRIBUTES },
    ports: {
      temporal: port(cfg.temporalAddress),
      temporalUi: Number(new URL(cfg.temporalUiUrl).port),
      ...(useNats ? { nats: Number(new URL(cfg.natsUrl.replace(/^nats:/, 'http:')).port || 4222) } : {}),
    },
  });
  const natsUrl = useNats ? addresses.nats?.url : undefined;
  if (storeCfg.kind === 'local') mkdirSync(storeCfg.root, { recursive: true });
  const events = await connectEventBus(natsUrl, { name: 'vldm-generate' });
  const workers = await startWorkers({
    temporalAddress: cfg.temporalAddress,
    namespace: cfg.namespace,
    queues: [...QUEUE_ROLES],
    store,
    events,
    warmPack: cfg.pack,
    scratchDir: path.join(cfg.stateDir, 'scratch'),
    intraOpThreads: cfg.intraOpThreads,
    noiseThreads: cfg.noiseThreads,
    modelThreads: cfg.modelThreads,
    executionProviders: cfg.executionProviders,
    ...(ledger ? { accelerators: ledger } : {}),
  });
  const client = await connectTemporal(cfg.temporalAddress, cfg.namespace);
  const ui = jobUiUrl(cfg, spec.jobId);
  try {
    out.info(
      `job ${spec.jobId}: ${plan.frames} frames ${plan.width}×${plan.height} @ ${plan.fps} fps, ${plan.segments.length} segments, ${plan.counts.total} activities`,
    );
    out.info(`Temporal UI: ${ui}`);
    if (initImage) await uploadInitImage(store, spec, initImage);
    await startJob(client, spec);
    // The early preview: the frames decoded so far, next to the output (src/client/preview.ts).
    const previewFile = outFile.replace(/\.mp4$/i, '.preview.mp4');
    const preview = startPreviewLoop({
      store,
      jobId: spec.jobId,
      fps: spec.fps,
      file: previewFile,
      onFirst: (p, seconds) =>
        out.info(
          `preview: ${previewFile} (${p.frames} of ${plan.frames} frames at ${p.width}×${p.height}, after ${seconds.toFixed(1)} s; updated as frames are decoded)`,
        ),
    });
    const view = await showProgress(client, spec.jobId, natsUrl, { draw: !opts.json });
    // Ctrl-C or SIGTERM stops this process's workers (the SDK's runtime shuts them down on these
    // signals too), which would leave it waiting for a job nothing runs: stop waiting and say how
    // to go on. The job stays in Temporal; every finished activity's output is stored.
    const stop = onStopSignal();
    let result;
    let last: Preview | undefined;
    try {
      const job = waitForJob(client, spec.jobId);
      job.catch(() => undefined); // abandoned when a signal wins the race; the connection closes below
      const first = await Promise.race([job.then((r) => ({ r })), stop.signal.then((sig) => ({ sig }))]);
      if ('sig' in first) {
        out.info(
          `interrupted (${first.sig}): stopping this process's workers (running activities save a checkpoint). ` +
            `Job ${spec.jobId} stays in Temporal with its finished work stored: run the same command again to ` +
            `resume it, or \`vldm cancel ${spec.jobId}\` to drop it.`,
        );
        return SIGNAL_EXIT[first.sig];
      }
      result = first.r;
      await view.finished; // draws the final counts
    } finally {
      stop.dispose();
      await view.stop();
      last = await preview.stop();
    }
    await store.getToFile(result.outputKey, outFile);
    const summary = {
      jobId: spec.jobId,
      output: outFile,
      frames: result.frames,
      width: result.width,
      height: result.height,
      fps: result.fps,
      bytes: result.bytes,
      sha256: result.sha256,
      segments: result.segments,
      activities: result.activities,
      temporalUiUrl: ui,
      progressSource: view.source,
      ...(last
        ? { preview: { file: last.file, frames: last.frames, firstSeconds: preview.firstSeconds() } }
        : {}),
    };
    if (opts.json) out.result(summary);
    else {
      out.info(
        `wrote ${outFile}: ${result.frames} frames ${result.width}×${result.height} @ ${result.fps} fps (${result.bytes} bytes)`,
      );
      out.info(
        `activities: ${result.activities.total} (${result.activities.reused} reused from earlier runs)`,
      );
    }
    return 0;
  } finally {
    await client.connection.close();
    await workers.shutdown();
    await events.close();
    await store.close?.();
  }
}
