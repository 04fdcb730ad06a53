import { it } from 'vitest';
import { decide } from '../../src/scaling/decide';
import { parsePoolsConfig } from '../../src/scaling/pools';
it('dbg', () => {
  const gpu = { gpusPerPod: 1, coldStartSeconds: 100 };
  const cfg = parsePoolsConfig({ maxPricePerHour: 100, secondsPerActivity: { keyframe: 60, upscale: 30, media: 5 }, deadlineMarginSeconds: 0, pools: [
      { name: 'up-spot', deployment: 'w-up-spot', queues: ['upscale'], spot: true, pricePerHour: 1, maxReplicas: 10, ...gpu },
      { name: 'up-od', deployment: 'w-up-od', queues: ['upscale'], spot: false, pricePerHour: 3, maxReplicas: 10, ...gpu }] });
  const d = decide({ now: 1e6, config: cfg, queues: {}, jobs: [{ jobId: 'j1', startedAt: 1e6 - 10, remaining: { upscale: 100 }, deadline: 1e6 + 1010 }], pools: {} });
  console.log(JSON.stringify(d, null, 1));
});
