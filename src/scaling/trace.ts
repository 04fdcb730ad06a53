/**
 * Simulation traces: the cluster (the scaler's pools file), what the spot market does, the stage
 * speeds, and the jobs (bursty arrivals of videos of mixed lengths with deadlines), either listed or
 * generated from a seed. Everything random is drawn from one seeded generator, so a trace file and
 * its seed give the same jobs, task durations, preemptions and results on every machine.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../common/errors';
import { STAGES, type Stage } from '../common/progress';
import type { JobSpec } from '../planning/spec';
import type { PackSummary } from '../planning/pack-summary';
import { planJob } from '../planning/plan';
import { RENDER_VERSION } from '../planning/render-plan';
import { parsePoolsConfig, type PoolsConfig } from './pools';
import defaultTraceJson from './traces/default.json';

/** A small, fast, seedable generator (mulberry32): uniform in [0, 1). */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Exponential with the given mean. */
  exp(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }
  /** Poisson count with the given mean (Knuth; means here are small). */
  poisson(mean: number): number {
    const l = Math.exp(-mean);
    let k = 0;
    let p = 1;
    do {
      k += 1;
      p *= this.next();
    } while (p > l);
    return k - 1;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next());
  }
  /** An item by weight. */
  pick<T extends { weight: number }>(items: readonly T[]): T {
    const total = items.reduce((a, x) => a + x.weight, 0);
    let u = this.next() * total;
    for (const x of items) {
      u -= x.weight;
      if (u < 0) return x;
    }
    return items[items.length - 1];
  }
}

/** One job of the trace. */
export interface TraceJob {
  id: string;
  /** Seconds after the trace starts. */
  arrival: number;
  /** Video length in seconds (as `vldm submit --seconds`). */
  seconds: number;
  /** Seconds after arrival by which it must be done; absent: no deadline. */
  deadlineAfter?: number;
}

export interface JobGenerator {
  /** Mean time between bursts of submissions. Minutes. */
  meanBurstGapMinutes: number;
  /** Mean jobs per burst (1 + Poisson(mean − 1)). */
  meanJobsPerBurst: number;
  /** A burst's jobs arrive uniformly within this long. Minutes. */
  burstSpreadMinutes: number;
  /** Video lengths (seconds) and their weights. */
  lengths: Array<{ seconds: number; weight: number }>;
  /** Deadline = arrival + slack × nominal duration (null slack: no deadline), with weights. */
  deadlines: Array<{ slack: number | null; weight: number }>;
  /**
   * GPUs a job is assumed to get when its nominal duration is worked out: nominal = critical path
   * (the keyframe chain and one render of the last segment) + its GPU work / referenceGpus.
   */
  referenceGpus: number;
}

export interface SpotMarket {
  /** Preemptions per spot pod-hour (Poisson). */
  preemptionsPerPodHour: number;
  /** Notice before a preempted pod's node goes away; its worker drains meanwhile. Seconds. */
  noticeSeconds: number;
  /** Mean time between spot capacity shortages (new spot pods stay unschedulable). Hours. */
  meanHoursBetweenShortages: number;
  /** Mean length of a shortage. Minutes. */
  meanShortageMinutes: number;
}

export interface Trace {
  description: string;
  seed: number;
  /** Length of the arrival window; the run goes on until every job is done. Hours. */
  horizonHours: number;
  /** How often the scaler decides. Seconds. @default 15 */
  controlIntervalSeconds: number;
  /** Simulated seconds of one activity of each stage on a speed-1 pod (mean; see `jitter`). */
  stageSeconds: Record<Stage, number>;
  /** Where the stage seconds come from (measurement and factor), for the report. */
  stageSecondsSource: string;
  /** Each task's duration is the mean × exp(jitter × N(0,1)) (log-normal spread). @default 0.15 */
  jitter: number;
  /** Activities heartbeat a checkpoint at least this often; a preempted one loses at most this. Seconds of work. */
  checkpointSeconds: number;
  /** Workers' shutdown grace on scale-down (running activities get this long, then retry elsewhere). Seconds. */
  graceSeconds: number;
  spot: SpotMarket;
  /** The pack windows and sizes jobs are planned with (planJob), as in vldm-pack.json. */
  pack: Pick<PackSummary, 'name' | 'video' | 'base' | 'windows'>;
  /** The cluster: the scaler's pools file. */
  cluster: PoolsConfig;
  generator?: JobGenerator;
  jobs?: TraceJob[];
}

function need(cond: boolean, msg: string, problems: string[]): void {
  if (!cond) problems.push(msg);
}

const posNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0;
const nonNeg = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;

/** Validate a parsed trace file. */
export function parseTrace(raw: unknown, source = 'trace'): Trace {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new UserError(`${source} must hold a JSON object`);
  const t = raw as Record<string, unknown>;
  const p: string[] = [];
  need(
    Number.isInteger(t.seed) && (t.seed as number) >= 0,
    `seed must be a non-negative integer, got ${JSON.stringify(t.seed)}`,
    p,
  );
  need(posNum(t.horizonHours), `horizonHours must be a number > 0, got ${JSON.stringify(t.horizonHours)}`, p);
  const interval = t.controlIntervalSeconds ?? 15;
  need(posNum(interval), `controlIntervalSeconds must be a number > 0, got ${JSON.stringify(interval)}`, p);
  const stage = (t.stageSeconds ?? {}) as Record<string, unknown>;
  for (const s of STAGES)
    need(posNum(stage[s]), `stageSeconds.${s} must be a number > 0, got ${JSON.stringify(stage[s])}`, p);
  const jitter = t.jitter ?? 0.15;
  need(nonNeg(jitter), `jitter must be a number ≥ 0, got ${JSON.stringify(jitter)}`, p);
  need(
    posNum(t.checkpointSeconds),
    `checkpointSeconds must be a number > 0, got ${JSON.stringify(t.checkpointSeconds)}`,
    p,
  );
  need(nonNeg(t.graceSeconds), `graceSeconds must be a number ≥ 0, got ${JSON.stringify(t.graceSeconds)}`, p);
  const spot = (t.spot ?? {}) as Record<string, unknown>;
  need(nonNeg(spot.preemptionsPerPodHour), 'spot.preemptionsPerPodHour must be a number ≥ 0', p);
  need(nonNeg(spot.noticeSeconds), 'spot.noticeSeconds must be a number ≥ 0', p);
  need(posNum(spot.meanHoursBetweenShortages), 'spot.meanHoursBetweenShortages must be a number > 0', p);
  need(nonNeg(spot.meanShortageMinutes), 'spot.meanShortageMinutes must be a number ≥ 0', p);
  const pack = t.pack as Trace['pack'] | undefined;
  need(
    Boolean(pack?.video && pack.base && pack.windows),
    'pack must give video, base and windows (as in vldm-pack.json)',
    p,
  );
  if (t.jobs === undefined && t.generator === undefined) p.push('give either jobs (a list) or generator');
  const g = t.generator as JobGenerator | undefined;
  if (g) {
    need(posNum(g.meanBurstGapMinutes), 'generator.meanBurstGapMinutes must be a number > 0', p);
    need(
      typeof g.meanJobsPerBurst === 'number' && g.meanJobsPerBurst >= 1,
      'generator.meanJobsPerBurst must be ≥ 1',
      p,
    );
    need(nonNeg(g.burstSpreadMinutes), 'generator.burstSpreadMinutes must be a number ≥ 0', p);
    need(
      Array.isArray(g.lengths) &&
        g.lengths.length > 0 &&
        g.lengths.every((l) => posNum(l.seconds) && posNum(l.weight)),
      'generator.lengths must list { seconds > 0, weight > 0 }',
      p,
    );
    need(
      Array.isArray(g.deadlines) &&
        g.deadlines.length > 0 &&
        g.deadlines.every((d) => (d.slack === null || posNum(d.slack)) && posNum(d.weight)),
      'generator.deadlines must list { slack: number > 0 or null, weight > 0 }',
      p,
    );
    need(posNum(g.referenceGpus), 'generator.referenceGpus must be a number > 0', p);
  }
  if (t.jobs !== undefined) {
    need(
      Array.isArray(t.jobs) &&
        (t.jobs as TraceJob[]).every(
          (j) =>
            typeof j.id === 'string' &&
            nonNeg(j.arrival) &&
            posNum(j.seconds) &&
            (j.deadlineAfter === undefined || posNum(j.deadlineAfter)),
        ),
      'jobs must list { id, arrival ≥ 0, seconds > 0, deadlineAfter? > 0 }',
      p,
    );
  }
  if (p.length) throw new UserError(`${source}: ${p.join('; ')}`);
  const cluster = parsePoolsConfig(t.cluster, `${source}: cluster`);
  return {
    description: String(t.description ?? ''),
    seed: t.seed as number,
    horizonHours: t.horizonHours as number,
    controlIntervalSeconds: interval as number,
    stageSeconds: stage as Record<Stage, number>,
    stageSecondsSource: String(t.stageSecondsSource ?? ''),
    jitter: jitter as number,
    checkpointSeconds: t.checkpointSeconds as number,
    graceSeconds: t.graceSeconds as number,
    spot: spot as unknown as SpotMarket,
    pack: pack as Trace['pack'],
    cluster,
    ...(g ? { generator: g } : {}),
    ...(t.jobs ? { jobs: t.jobs as TraceJob[] } : {}),
  };
}

export function loadTrace(file: string): Trace {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(
      e.code ? `cannot read trace ${file}: ${e.code}` : `trace ${file} is not valid JSON: ${e.message}`,
    );
  }
  return parseTrace(json, `trace ${file}`);
}

/** The default trace shipped with vldm (docs/scaling.md describes it). */
export function defaultTrace(): Trace {
  return parseTrace(defaultTraceJson, 'default trace (src/scaling/traces/default.json)');
}

/** Activities of one segment's render, by stage, in the order the segment workflow runs them. */
export interface SegmentShape {
  pass0: number;
  pass1: number;
  decode: number;
  upscale: number;
}

/** A job's shape: the real plan (planJob) of its video length with the trace's pack windows. */
export function jobShape(trace: Trace, seconds: number): SegmentShape[] {
  let cache = shapeCache.get(trace);
  if (!cache) shapeCache.set(trace, (cache = new Map()));
  const hit = cache.get(seconds);
  if (hit) return hit;
  const pack: PackSummary = {
    location: 'simulation',
    name: trace.pack.name,
    digest: 'simulation',
    video: trace.pack.video,
    base: trace.pack.base,
    latent: { channels: 4, height: 1, width: 1, scale: 1, downsample: 1 },
    labels: ['day', 'night', 'clear', 'crowded'],
    sampling: {
      keyframe: { steps: 1, eta: 0 },
      interpolation: { steps: 1, eta: 0 },
      upsampler: { steps: 1, eta: 0 },
    },
    windows: trace.pack.windows,
  };
  const spec: JobSpec = {
    jobId: 'sim',
    name: 'sim',
    seconds,
    fps: trace.pack.video.fps,
    scene: 'day',
    traffic: 'clear',
    seed: 0,
    pack: 'simulation',
  };
  // The simulator's jobs run stage by stage within each segment: the schedule of render version 1,
  // whose plan it takes. Version 2's dataflow over the whole video is not modelled here (its counts
  // differ by a few decode windows and tiles per boundary). docs/scaling.md's numbers are these.
  const shape = planJob(spec, pack, { render: RENDER_VERSION.perSegment }).segments.map((s) => ({
    pass0: s.interpolation.filter((w) => w.pass === 0).length,
    pass1: s.interpolation.filter((w) => w.pass === 1).length,
    decode: s.decode.length,
    upscale: s.upscale.length,
  }));
  cache.set(seconds, shape);
  return shape;
}
const shapeCache = new WeakMap<Trace, Map<number, SegmentShape[]>>();

/** GPU work (speed-1 pod-seconds) and critical path (seconds) of a job of this shape. */
export function jobCost(trace: Trace, shape: SegmentShape[]): { gpuSeconds: number; criticalPath: number } {
  const s = trace.stageSeconds;
  const sum = (f: (x: SegmentShape) => number) => shape.reduce((a, x) => a + f(x), 0);
  const gpuSeconds =
    shape.length * s.keyframe +
    sum((x) => x.pass0 + x.pass1) * s.interpolation +
    sum((x) => x.decode) * s.decode +
    sum((x) => x.upscale) * s.upscale;
  const criticalPath =
    s.prepare + shape.length * s.keyframe + 2 * s.interpolation + s.decode + s.upscale + s.encode + s.stitch;
  return { gpuSeconds, criticalPath };
}

/** The trace's jobs: its list, or drawn from its generator and seed. */
export function traceJobs(trace: Trace): TraceJob[] {
  if (trace.jobs) return [...trace.jobs].sort((a, b) => a.arrival - b.arrival || a.id.localeCompare(b.id));
  const g = trace.generator as JobGenerator;
  const rng = new Rng(trace.seed);
  const horizon = trace.horizonHours * 3600;
  const jobs: TraceJob[] = [];
  let t = rng.exp(g.meanBurstGapMinutes * 60);
  while (t < horizon) {
    const n = 1 + rng.poisson(g.meanJobsPerBurst - 1);
    for (let i = 0; i < n; i++) {
      const arrival = Math.min(horizon, t + rng.next() * g.burstSpreadMinutes * 60);
      const seconds = rng.pick(g.lengths).seconds;
      const slack = rng.pick(g.deadlines).slack;
      const { gpuSeconds, criticalPath } = jobCost(trace, jobShape(trace, seconds));
      const nominal = criticalPath + gpuSeconds / g.referenceGpus;
      jobs.push({
        id: '',
        arrival: Math.round(arrival),
        seconds,
        ...(slack !== null ? { deadlineAfter: Math.round(slack * nominal) } : {}),
      });
    }
    t += rng.exp(g.meanBurstGapMinutes * 60);
  }
  jobs.sort((a, b) => a.arrival - b.arrival);
  return jobs.map((j, i) => ({ ...j, id: `job-${String(i).padStart(3, '0')}` }));
}
