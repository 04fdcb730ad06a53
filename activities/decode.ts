/**
 * Decoding stage (paper §3.1.1): latents → pixels through the temporally fine-tuned decoder, in
 * overlapping temporal windows. Each window decodes its own frames plus `overlap` context frames on
 * each side (so the temporal layers see motion across the window edge) and keeps only its own.
 */
import { sliceFrames } from '../src/tensors';
import { encodePixels, pixelKeyInputs } from '../src/activity-runtime/artifact-format';
import { gatherFrames } from '../src/activity-runtime/frames';
import { runStage, type StageEvent } from '../src/activity-runtime/stage-runner';
import { segName, stageKey } from '../src/activity-runtime/keys';
import { soleFeed } from '../src/models/inputs';
import { packFor, type ActivityDeps } from './deps';
import type { DecodeInput, StageOutput } from '../src/common/boundary';
import { Context } from '@temporalio/activity';
import { phase } from '../src/observability/host-phases';

export function createDecodeActivities(deps: ActivityDeps) {
  return {
    async decode(input: DecodeInput): Promise<StageOutput> {
      const { spec, pack, segment, window: w, sources } = input;
      const name = `${segName(segment)}-f${String(w.own.start).padStart(6, '0')}`;
      const key = stageKey(spec.jobId, 'decode', name, {
        pack: pack.digest,
        window: w,
        sources: sources.map((x) => x.key),
        ...pixelKeyInputs,
      });
      const ev: StageEvent = { jobId: spec.jobId, stage: 'decode', segment, window: w.own.start };
      return runStage(deps, key, ev, async () => {
        const loaded = await packFor(deps, input);
        const model = await loaded.runtime.session('decoder');
        const latents = await gatherFrames(deps.store, sources, w.decoded.start, w.decoded.end);
        // Denoisers work on scaled latents z = s·E(x); the decoder takes E(x) = z / s.
        const inv = 1 / pack.latent.scale;
        const unscaled = phase('decode', () => latents.data.map((v) => v * inv));
        Context.current().heartbeat({ decoding: w.own });
        const out = await model.run(soleFeed('decoder', { shape: [1, ...latents.shape], data: unscaled }));
        const pixels = { shape: out.shape.slice(1), data: out.data };
        const own = phase('decode', () =>
          sliceFrames(pixels, 0, w.own.start - w.decoded.start, w.own.end - w.decoded.start),
        );
        return encodePixels(own);
      });
    },
  };
}
