/**
 * The host-work probe (src/bench/host-probe.ts) on the real activity code, onnxruntime and ffmpeg: every
 * activity it names runs, its phases are accounted for (none overlaps another, so "other", the wall time
 * they leave, is never negative; model calls only where there are models, noise only where there is
 * sampling), each output is the same bytes in every run, and a second probe in the same process, its
 * noise and model calls on the activity's thread instead of the noise and model threads, gets the same
 * bytes again. The numbers
 * themselves are measured by hand (docs/performance.md, "Host work per activity").
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProbe, probeHostWork, type ProbeResult } from '../../src/bench/host-probe';
import { HOST_PHASES } from '../../src/observability/host-phases';
import { repoRoot } from '../../src/host/paths';
import { noiseThreads, setNoiseThreads } from '../../src/activity-runtime/noise-threads';

const BENCH_PACK = path.join(repoRoot(), 'models', 'bench');

describe('host-work probe', () => {
  it('runs each activity, accounts for its wall time by phase and writes the same bytes every run', async () => {
    const first = await probeHostWork({ runs: 2, pack: BENCH_PACK, modelThreads: 2 });
    expect(first.map((r) => r.kind)).toEqual(['interpolation', 'decode', 'upscale', 'encode']);
    const of = (rs: ProbeResult[], kind: string) => rs.find((r) => r.kind === kind) as ProbeResult;
    for (const r of first) {
      expect(r.outputSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(r.hostRuns).toHaveLength(2);
      for (const p of HOST_PHASES) expect(r.median[p]).toBeGreaterThanOrEqual(0);
      expect(r.median.wall).toBeGreaterThan(0);
      expect(r.median.other).toBeGreaterThanOrEqual(0);
      expect(r.median.host).toBeCloseTo(r.median.wall - r.median.model, 6);
    }
    for (const kind of ['interpolation', 'decode', 'upscale'])
      expect(of(first, kind).median.model).toBeGreaterThan(0);
    expect(of(first, 'encode').median.model).toBe(0);
    expect(of(first, 'upscale').median.noise).toBeGreaterThan(0);
    expect(of(first, 'decode').median.noise).toBe(0);
    expect(of(first, 'encode').median.blend).toBeGreaterThan(0);
    // A fresh store and model cache, the tile's noise and every model call on the activity's thread
    // instead of the noise threads (src/activity-runtime/noise-threads.ts) and the model threads
    // (src/models/model-threads.ts): the same bytes again.
    const threads = noiseThreads();
    expect(threads).toBeGreaterThan(0);
    setNoiseThreads(0);
    let second: ProbeResult[];
    try {
      second = await probeHostWork({ runs: 1, pack: BENCH_PACK, modelThreads: 0 });
    } finally {
      setNoiseThreads(threads);
    }
    expect(second.map((r) => r.outputSha256)).toEqual(first.map((r) => r.outputSha256));
    const text = formatProbe(first, { before: 'load a', after: 'load b' }, { noise: threads, model: 2 });
    expect(text).toContain(`noise threads: ${threads}; model threads per session: 2`);
    expect(text).toContain('wall time');
    expect(text).toMatch(/^upscale\s+[\d.]+/m);
    expect(text).toContain(first[2].outputSha256.slice(0, 16));
  }, 300_000);
});
