/**
 * `vldm scaler simulate` on the default trace gives the results docs/scaling.md records: if the
 * policy, the simulator or the trace changes, this fails until the document says what the new
 * numbers are (and whether the targets are still met or missed).
 */
import { describe, expect, it } from 'vitest';
import { compare } from '../../src/scaling/compare';
import { defaultTrace } from '../../src/scaling/trace';

describe('the recorded simulation results', () => {
  it('match docs/scaling.md', () => {
    const c = compare(defaultTrace());
    const { static: stat, keda, ours } = c.results;
    expect(c.trace).toMatchObject({ seed: 20230418, jobs: 43, deadlineJobs: 35 });
    expect(c.static.variant).toBe('spot');
    expect(c.static.replicas).toMatchObject({
      'keyframe-spot': 1,
      'interpolation-spot': 1,
      'decode-spot': 1,
      'upscale-spot': 19,
      media: 1,
    });
    expect([stat.gpuCost.toFixed(2), stat.deadlinesMet]).toEqual(['236.40', 35]);
    expect([keda.gpuCost.toFixed(2), keda.deadlinesMet]).toEqual(['72.40', 24]);
    expect([ours.gpuCost.toFixed(2), ours.deadlinesMet]).toEqual(['64.56', 35]);
    expect((ours.latencyP50 / 60).toFixed(1)).toBe('15.6');
    expect((ours.latencyP95 / 60).toFixed(1)).toBe('77.9');
    expect(c.targets).toEqual({
      cheaperThanStaticBy30: true,
      gpuSavingVsStatic: expect.closeTo(0.727, 3),
      hitRateAtLeastStatic: true,
      notWorseThanKeda: true,
    });
  });
});
