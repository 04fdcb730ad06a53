/**
 * `vldm seams <video.mp4> [job flags]`: does the video show where it was cut into pieces? Prints the
 * frame change at every segment boundary and clip join of the job's plan (or at `--at` frames) as a
 * multiple of the change around it, beside the same ratio over every other frame. Exits 1 when a
 * segment boundary (or an `--at` frame) is above `--max-ratio` (default 1.5), so it serves as a check.
 */
import { existsSync } from 'node:fs';
import { UserError } from '../../common/errors';
import type { VldmConfig } from '../../config/config';
import { frameChanges, seamReport, SEAM_NEIGHBOURS } from '../../media/seams';
import { compileJob, type JobFlags } from '../edge';
import { EXIT } from '../exit-codes';
import { makeOut } from '../io';

export interface SeamFlags extends JobFlags {
  at?: string;
  maxRatio?: string;
  json?: boolean;
}

export async function seams(video: string, opts: SeamFlags, cfg: VldmConfig): Promise<number> {
  const out = makeOut(Boolean(opts.json));
  const maxRatio = Number(opts.maxRatio ?? '1.5');
  if (!Number.isFinite(maxRatio) || maxRatio <= 0)
    throw new UserError(`--max-ratio must be a positive number, got "${opts.maxRatio}"`);
  if (!existsSync(video)) throw new UserError(`no such video: ${video}`);
  let boundaries: Array<{ frame: number; kind: string }>;
  if (opts.at !== undefined) {
    boundaries = opts.at.split(',').map((s) => {
      if (!/^\d+$/.test(s.trim()))
        throw new UserError(`--at must be a comma list of frame numbers, got "${opts.at}"`);
      return { frame: Number(s), kind: 'given' };
    });
  } else {
    const { plan } = await compileJob(opts, cfg.pack);
    const segmentStarts = plan.segments.slice(1).map((s) => s.frames.start);
    const clipStarts = plan.segments.slice(1).flatMap((s) => (s.render ? [s.render.clip.start] : []));
    boundaries = [
      ...segmentStarts.map((frame) => ({ frame, kind: 'segment' })),
      ...clipStarts.filter((f) => !segmentStarts.includes(f)).map((frame) => ({ frame, kind: 'clip join' })),
    ].sort((a, b) => a.frame - b.frame);
  }
  const report = seamReport(await frameChanges(video), boundaries);
  // Clip joins are where separately encoded clips meet (an encoder restart, not a rendering cut): shown
  // for comparison with the rest of the video, not held to the limit.
  const checked = report.boundaries.filter((b) => b.kind !== 'clip join');
  const worst = Math.max(0, ...checked.map((b) => b.ratio ?? 0));
  const ok = worst <= maxRatio;
  if (opts.json) {
    out.result({ video, maxRatio, ok, ...report });
  } else {
    out.info(
      `${video}: ${report.frames} frames; change at each boundary ÷ median change of the ${SEAM_NEIGHBOURS} frame pairs around it`,
    );
    for (const b of report.boundaries)
      out.info(
        `  ${b.kind.padEnd(9)} frame ${String(b.frame).padStart(6)}: ${b.ratio === undefined ? 'too close to an end' : `${b.ratio.toFixed(2)}×`} (change ${b.change.toFixed(3)})`,
      );
    const e = report.elsewhere;
    out.info(
      `  every other frame (${e.frames}): median ${e.median.toFixed(2)}×, 95th percentile ${e.p95.toFixed(2)}×, max ${e.max.toFixed(2)}×`,
    );
    out.info(
      ok
        ? `OK: no ${opts.at === undefined ? 'segment boundary' : 'given frame'} above ${maxRatio}×`
        : `SEAM: a boundary is ${worst.toFixed(2)}× (limit ${maxRatio}×)`,
    );
  }
  return ok ? EXIT.ok : EXIT.failed;
}
