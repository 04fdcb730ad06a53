/**
 * `measureStage`: how long one model call of this pool's stage takes at the job's real shapes, on
 * this worker (the fastest of 3 calls after a warm-up, or 1 call when the warm-up took a second or
 * more; cached per pack and shape for the worker's life). The fastest, not the median: probes run at
 * job start beside the first keyframes and each other, and a call that waited for a core measures the
 * machine's load, not the model. Every job's rendering waits for its probes, so they stay cheap.
 * The workflow derives the stage's heartbeat and start-to-close timeouts from it
 * (src/planning/timeouts.ts). Each GPU queue registers this activity, so it runs on that pool.
 */
import type { MeasuredStage, StageSpeed } from '../src/planning/timeouts';
import { stageProbe } from '../src/activity-runtime/stage-probe';
import { packFor, type ActivityDeps } from './deps';
import { withHeartbeats } from '../src/activity-runtime/stage-runner';
import type { StageContext } from '../src/common/boundary';

const cache = new Map<string, Promise<number>>();

/** A warm-up call at least this long is timed once more, not three times (see below). */
export const PROBE_LONG_CALL_MS = 1000;

export function createSpeedActivities(deps: ActivityDeps) {
  return {
    async measureStage(input: StageContext & { stage: MeasuredStage }): Promise<StageSpeed> {
      const { pack, stage } = input;
      const { role, inputs, calls } = stageProbe(pack, stage);
      const cacheKey = `${pack.digest}/${stage}/${JSON.stringify(Object.values(inputs).map((v) => v.shape))}`;
      let ms = cache.get(cacheKey);
      if (!ms) {
        ms = (async () => {
          const model = await (await packFor(deps, input)).runtime.session(role);
          const w0 = performance.now();
          await model.run(inputs); // warm-up: first calls allocate
          // A call of a second or more has no quiet moment to catch on a loaded machine, and three
          // more of it (the upsampler's ~3 s on CPU) would hold every job's first frames back.
          const timed = performance.now() - w0 < PROBE_LONG_CALL_MS ? 3 : 1;
          const times: number[] = [];
          for (let i = 0; i < timed; i++) {
            const t0 = performance.now();
            await model.run(inputs);
            times.push(performance.now() - t0);
          }
          return Math.min(...times);
        })();
        cache.set(cacheKey, ms);
        ms.catch(() => cache.delete(cacheKey));
      }
      const probe = ms;
      // Heartbeats while it waits: a probe lost with its worker is retried within the heartbeat
      // timeout instead of holding every job's rendering for the start-to-close timeout.
      return {
        stage,
        msPerCall: await withHeartbeats(() => probe, { probing: stage }),
        callsPerActivity: calls,
      };
    },
  };
}
