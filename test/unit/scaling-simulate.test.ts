/**
 * The simulator's accounting on traces small enough to work out by hand: one pod doing a whole job
 * takes exactly the job's summed activity time, a cold start adds to it and is billed, preemptions
 * lose at most a checkpoint of work each, deadlines are met or missed by the clock; and a run is a
 * pure function of the trace and its seed.
 */
import { describe, expect, it } from 'vitest';
import { STAGES } from '../../src/common/progress';
import { kedaPolicy, ourPolicy, staticPolicy } from '../../src/scaling/policies';
import { simulate } from '../../src/scaling/simulate';
import { defaultTrace, jobShape, parseTrace, traceJobs, type Trace } from '../../src/scaling/trace';

const STAGE_SECONDS = {
  prepare: 1,
  keyframe: 3,
  interpolation: 5,
  decode: 7,
  upscale: 11,
  encode: 13,
  stitch: 17,
};

function tinyTrace(
  over: {
    coldStartSeconds?: number;
    spot?: boolean;
    preemptionsPerPodHour?: number;
    deadlineAfter?: number;
    jobs?: Array<{ id: string; arrival: number; seconds: number; deadlineAfter?: number }>;
  } = {},
): Trace {
  const base = defaultTrace();
  return parseTrace({
    description: 'one job, one pod',
    seed: 7,
    horizonHours: 0.001,
    controlIntervalSeconds: 15,
    stageSeconds: STAGE_SECONDS,
    jitter: 0,
    checkpointSeconds: 2,
    graceSeconds: 30,
    spot: {
      preemptionsPerPodHour: over.preemptionsPerPodHour ?? 0,
      noticeSeconds: 0,
      meanHoursBetweenShortages: 1,
      meanShortageMinutes: 0,
    },
    pack: base.pack,
    jobs: over.jobs ?? [
      {
        id: 'j',
        arrival: 0,
        seconds: 2,
        ...(over.deadlineAfter !== undefined ? { deadlineAfter: over.deadlineAfter } : {}),
      },
    ],
    cluster: {
      maxPricePerHour: 10,
      secondsPerActivity: { keyframe: 3, interpolation: 5, decode: 7, upscale: 11, media: 13 },
      pools: [
        {
          name: 'all',
          deployment: 'all',
          queues: ['keyframe', 'interpolation', 'decode', 'upscale', 'media'],
          gpusPerPod: 1,
          spot: over.spot ?? false,
          pricePerHour: 3.6,
          coldStartSeconds: over.coldStartSeconds ?? 0,
          maxReplicas: 1,
        },
      ],
    },
  });
}

/** The summed activity time of the tiny trace's job, from its real plan. */
function work(trace: Trace): number {
  const shape = jobShape(trace, 2);
  const s = STAGE_SECONDS;
  return (
    s.prepare +
    s.stitch +
    shape.length * (s.keyframe + s.encode) +
    shape.reduce(
      (a, x) => a + (x.pass0 + x.pass1) * s.interpolation + x.decode * s.decode + x.upscale * s.upscale,
      0,
    )
  );
}

describe('simulator', () => {
  it('one pod does a whole job in exactly its summed activity time, and is billed for it', () => {
    const trace = tinyTrace();
    const w = work(trace);
    expect(w).toBeGreaterThan(100); // the plan has real fan-out: several windows and tiles
    const r = simulate(trace, staticPolicy({ all: 1 }));
    expect(r.finished).toBe(1);
    expect(r.outcomes[0].done).toBeCloseTo(w, 6);
    expect(r.latencyP50).toBeCloseTo(w, 6);
    expect(r.pools[0].podHours).toBeCloseTo(w / 3600, 9);
    expect(r.pools[0].busyHours).toBeCloseTo(w / 3600, 9);
    expect(r.gpuCost).toBeCloseTo((w / 3600) * 3.6, 9);
    expect(r.pools[0].coldStarts).toBe(1);
  });

  it('a cold start delays the job by its length and is billed', () => {
    const trace = tinyTrace({ coldStartSeconds: 100 });
    const w = work(trace);
    const r = simulate(trace, staticPolicy({ all: 1 }));
    expect(r.outcomes[0].done).toBeCloseTo(100 + w, 6);
    expect(r.pools[0].podHours).toBeCloseTo((100 + w) / 3600, 9);
    expect(r.pools[0].busyHours).toBeCloseTo(w / 3600, 9);
  });

  it('deadlines are met or missed by the clock', () => {
    const w = work(tinyTrace());
    expect(simulate(tinyTrace({ deadlineAfter: Math.ceil(w) + 1 }), staticPolicy({ all: 1 })).hitRate).toBe(
      1,
    );
    expect(simulate(tinyTrace({ deadlineAfter: Math.floor(w) - 1 }), staticPolicy({ all: 1 })).hitRate).toBe(
      0,
    );
  });

  it('a preempted spot pod loses at most a checkpoint of work, and its replacement pays a cold start', () => {
    const trace = tinyTrace({ spot: true, preemptionsPerPodHour: 120, coldStartSeconds: 5 });
    const r = simulate(trace, staticPolicy({ all: 1 }));
    const pool = r.pools[0];
    expect(r.finished).toBe(1);
    expect(pool.preemptions).toBeGreaterThan(3);
    expect(pool.coldStarts).toBe(pool.preemptions + 1);
    expect(r.lostWorkSeconds).toBeGreaterThan(0);
    expect(r.lostWorkSeconds).toBeLessThanOrEqual(pool.preemptions * trace.checkpointSeconds);
    // Every second of work was done once, plus what was lost and redone.
    expect(pool.busyHours * 3600).toBeCloseTo(work(trace) + r.lostWorkSeconds, 6);
  });

  it('dispatches by priority key: a job with a deadline overtakes one without, FIFO within a key', () => {
    const w = work(tinyTrace());
    const done = (deadlineAfter?: number) => {
      const trace = tinyTrace({
        jobs: [
          { id: 'first', arrival: 0, seconds: 2 },
          { id: 'second', arrival: 1, seconds: 2, ...(deadlineAfter ? { deadlineAfter } : {}) },
        ],
      });
      const r = simulate(trace, staticPolicy({ all: 1 }));
      expect(r.finished).toBe(2);
      const at = (id: string) => r.outcomes.find((o) => o.id === id)?.done ?? Number.NaN;
      return { first: at('first'), second: at('second') };
    };
    // Same key (no deadlines): the tasks interleave in arrival order and the first job ends first.
    const fifo = done();
    expect(fifo.first).toBeLessThan(fifo.second);
    // The second job due within 10 minutes (key 1) goes first at every stage: it ends first, held up
    // at most by one activity of the other job per stage it waits behind (the longest is 17 s).
    const prio = done(600);
    expect(prio.second).toBeLessThan(prio.first);
    expect(prio.second - 1).toBeLessThan(w + 7 * 17);
    expect(prio.first).toBeCloseTo(2 * w, 6); // one pod, never idle: the total work either way
  });

  it('is a pure function of the trace and its seed', () => {
    const short = { ...defaultTrace(), horizonHours: 4 };
    for (const make of [ourPolicy, () => kedaPolicy(short.cluster)]) {
      const a = simulate(short, make());
      const b = simulate(short, make());
      expect(a).toEqual(b);
    }
    const other = simulate({ ...short, seed: short.seed + 1 }, ourPolicy());
    expect(other.outcomes).not.toEqual(simulate(short, ourPolicy()).outcomes);
  });

  it('draws bursty jobs of the configured lengths, deadlines from the plan, all from the seed', () => {
    const trace = defaultTrace();
    const jobs = traceJobs(trace);
    expect(jobs).toEqual(traceJobs(trace));
    expect(new Set(jobs.map((j) => j.seconds))).toEqual(new Set([10, 30, 60, 120]));
    const withDeadline = jobs.filter((j) => j.deadlineAfter !== undefined).length;
    expect(withDeadline / jobs.length).toBeGreaterThan(0.6);
    expect(withDeadline).toBeLessThan(jobs.length);
    // Bursty: most gaps are short (within a burst), a few are long (between bursts).
    const gaps = jobs.slice(1).map((j, i) => j.arrival - jobs[i].arrival);
    expect(gaps.filter((g) => g < 600).length).toBeGreaterThan(gaps.length / 2);
    expect(Math.max(...gaps)).toBeGreaterThan(3600);
    expect(STAGES.every((s) => trace.stageSeconds[s] > 0)).toBe(true);
  });

  it('rejects a trace with missing stage speeds, naming them', () => {
    const raw = JSON.parse(JSON.stringify({ ...defaultTrace(), stageSeconds: { keyframe: 1 } }));
    expect(() => parseTrace(raw)).toThrow(/stageSeconds.prepare must be a number > 0, got undefined/);
  });
});
