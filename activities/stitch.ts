/**
 * Stitch stage: joins the segment clips into the job's MP4 (no re-encode) and checks with ffprobe that
 * it has exactly the planned frame count, size and rate before storing it.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { concatClips, probeVideo } from '../src/media/ffmpeg';
import { alreadyDone, emit, withHeartbeats, type StageEvent } from '../src/activity-runtime/stage-runner';
import { stageKey } from '../src/activity-runtime/keys';
import { markFinished } from '../src/storage';
import type { ActivityDeps } from './deps';
import type { StitchInput, StitchOutput } from '../src/common/boundary';

export function createStitchActivities(deps: ActivityDeps) {
  return {
    async stitchJob(input: StitchInput): Promise<StitchOutput> {
      const { spec, pack, clips, frames } = input;
      const key = stageKey(spec.jobId, 'output', spec.name, { clips }, 'mp4');
      const ev: StageEvent = { jobId: spec.jobId, stage: 'stitch' };
      const geometry = { frames, width: pack.video.width, height: pack.video.height, fps: spec.fps };
      const existing = (await alreadyDone(deps, key, ev)) ? await deps.store.stat(key) : undefined;
      if (existing) {
        // Finished again (a rerun): retention counts from now.
        await markFinished(deps.store, spec.jobId, { key, sha256: existing.sha256, bytes: existing.size });
        return { key, reused: true, ...geometry, bytes: existing.size, sha256: existing.sha256 };
      }
      emit(deps.events, ev, 'started');
      const dir = await mkdtemp(path.join(deps.scratchDir, `stitch-${spec.jobId}-`));
      try {
        const files: string[] = [];
        for (const [i, clip] of clips.entries()) {
          const file = path.join(dir, `clip-${String(i).padStart(4, '0')}.mp4`);
          await deps.store.getToFile(clip, file);
          files.push(file);
        }
        const out = path.join(dir, 'video.mp4');
        const probe = await withHeartbeats(
          async () => {
            await concatClips(files, out);
            return probeVideo(out);
          },
          { stitching: files.length },
        );
        if (
          probe.frames !== frames ||
          probe.width !== geometry.width ||
          probe.height !== geometry.height ||
          Math.abs(probe.fps - spec.fps) > 1e-6
        ) {
          throw ApplicationFailure.create({
            type: 'VldmStitchMismatch',
            nonRetryable: true,
            message: `stitched video has ${probe.frames} frames ${probe.width}×${probe.height} at ${probe.fps} fps, planned ${frames} frames ${geometry.width}×${geometry.height} at ${spec.fps} fps`,
          });
        }
        const info = await deps.store.putFile(key, out, { contentType: 'video/mp4' });
        await markFinished(deps.store, spec.jobId, { key, sha256: info.sha256, bytes: info.size });
        emit(deps.events, ev, 'completed');
        return { key, reused: false, ...geometry, bytes: (await stat(out)).size, sha256: info.sha256 };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
