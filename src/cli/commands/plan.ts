/** `vldm plan`: print the plan of a job (segments, windows, tiles, activity counts) without running it. */
import type { VldmConfig } from '../../config/config';
import { estimateHistories, type WorkflowEstimate } from '../../planning/history-estimate';
import { compileJob, type JobFlags } from '../edge';
import { makeOut } from '../io';

export async function plan(opts: JobFlags & { json?: boolean }, cfg: VldmConfig): Promise<number> {
  const out = makeOut(Boolean(opts.json));
  const { spec, pack, plan: p, initImage } = await compileJob(opts, cfg.pack);
  const histories = estimateHistories(spec, pack, p);
  if (opts.json) {
    out.result({
      spec,
      pack: { name: pack.name, digest: pack.digest, location: pack.location },
      plan: p,
      histories,
    });
    return 0;
  }
  out.info(`job ${spec.jobId} with pack ${pack.name} (${pack.digest.slice(0, 12)})`);
  if (initImage)
    out.info(
      `init image: ${initImage.file} (${initImage.format.toUpperCase()} ${initImage.width}×${initImage.height}, sha256 ${initImage.sha256.slice(0, 12)}…), ` +
        `scaled and centre-cropped to ${pack.base.width}×${pack.base.height}`,
    );
  out.info(
    `video: ${p.frames} frames ${p.width}×${p.height} @ ${p.fps} fps; ${p.keyframes} keyframes @ ${p.keyframeFps} fps`,
  );
  out.info(`segments: ${p.segments.length}`);
  for (const s of p.segments) {
    out.info(
      `  segment ${String(s.index).padStart(3)}: keyframes ${s.keyframes.start}–${s.keyframes.start + s.keyframes.frames - 1} (context ${s.keyframes.context}${s.keyframes.firstFrameFromImage ? ', first frame from the image model' : ''}${s.keyframes.initImage ? ', first frame from the init image' : ''}), ` +
        `frames ${s.frames.start}–${s.frames.end - 1}; interpolation windows ${s.interpolation.length}, decode windows ${s.decode.length}, upscale tiles ${s.upscale.length}`,
    );
  }
  out.info(
    `activities: ${Object.entries(p.counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  const L = histories.limits;
  const kb = (b: number) => `${(b / 1024).toFixed(0)} KB`;
  const line = (w: WorkflowEstimate) =>
    `  ${w.workflow.padEnd(12)} ≤ ${w.events} events (limit ${L.historyEvents}), ≤ ${kb(w.bytes)} (limit ${kb(L.historyBytes)}), ` +
    `pending ≤ ${w.pendingActivities} activities / ${w.pendingChildren} children (limit ${L.pendingActivities}), largest payload ≤ ${kb(w.largestPayloadBytes)} (limit ${kb(L.payloadBytes)})`;
  out.info('Temporal histories (upper estimates):');
  out.info(line(histories.job));
  if (histories.chapters.length > 0) {
    const biggest = histories.chapters.reduce((a, b) => (b.events > a.events ? b : a));
    out.info(`${line(biggest)}  (largest of ${histories.chapters.length} chapters)`);
  }
  out.info(line(histories.largestSegment));
  out.info(
    histories.exceeded.length === 0
      ? '  every workflow fits inside the limits'
      : `  EXCEEDS: ${histories.exceeded.join(', ')}`,
  );
  return 0;
}
