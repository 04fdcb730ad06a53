/**
 * Job progression: a job's activities in the workflows' order (prepare; the keyframe chain; per segment,
 * once its keyframe is done: interpolation pass 0, pass 1, decode, upscale, encode; then stitch), each
 * queued when the one before it completes, with durations drawn from the job's own seed so they do not
 * depend on the policy's choices.
 */
import type { QueueRole } from '../../common/names';
import { deadlinePriority } from '../../common/priority';
import type { Stage } from '../../common/progress';
import { STAGE_QUEUE, type JobObservation } from '../decide';
import { Rng, jobShape, type Trace, type TraceJob } from '../trace';
import type { Dispatcher } from './dispatch';
import type { Timeline } from './events';
import type { Job, Task } from './model';

const PHASES = ['pass0', 'pass1', 'decode', 'upscale', 'encode'] as const;
const PHASE_STAGE: Record<(typeof PHASES)[number], Stage> = {
  pass0: 'interpolation',
  pass1: 'interpolation',
  decode: 'decode',
  upscale: 'upscale',
  encode: 'encode',
};

/** Seed of a job's own generator, so its task durations do not depend on the policy's choices. */
function jobSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

function newJob(trace: Trace, spec: TraceJob, index: number): Job {
  const shape = jobShape(trace, spec.seconds);
  const rng = new Rng(jobSeed(trace.seed, index));
  const draw = (stage: Stage, n: number) =>
    Array.from({ length: n }, () => trace.stageSeconds[stage] * Math.exp(trace.jitter * rng.normal()));
  const durations = new Map<string, number[]>();
  durations.set('prepare', draw('prepare', 1));
  durations.set('keyframe', draw('keyframe', shape.length));
  shape.forEach((s, i) => {
    for (const ph of PHASES) durations.set(`${i}:${ph}`, draw(PHASE_STAGE[ph], ph === 'encode' ? 1 : s[ph]));
  });
  durations.set('stitch', draw('stitch', 1));
  const remaining: Partial<Record<QueueRole, number>> = {};
  const count = (q: QueueRole, n: number) => (remaining[q] = (remaining[q] ?? 0) + n);
  count('media', 2 + shape.length);
  count('keyframe', shape.length);
  for (const s of shape) {
    count('interpolation', s.pass0 + s.pass1);
    count('decode', s.decode);
    count('upscale', s.upscale);
  }
  return {
    spec,
    index,
    shape,
    durations,
    ...(spec.deadlineAfter !== undefined ? { deadline: spec.arrival + spec.deadlineAfter } : {}),
    keyframesDone: 0,
    phase: shape.map(() => -1),
    left: shape.map(() => 0),
    encoded: 0,
    remaining,
  };
}

export class Jobs {
  /** Every job that arrived, in arrival order. */
  readonly all: Job[] = [];
  /** Jobs whose stitch completed, in completion order. */
  readonly finished: Job[] = [];
  readonly #active = new Set<Job>();
  readonly #trace: Trace;
  readonly #timeline: Timeline;
  readonly #dispatch: Dispatcher;
  readonly #expected: number;
  #arrived = 0;

  /** `expected`: how many jobs the run will see arrive. */
  constructor(trace: Trace, timeline: Timeline, dispatch: Dispatcher, expected: number) {
    this.#trace = trace;
    this.#timeline = timeline;
    this.#dispatch = dispatch;
    this.#expected = expected;
  }

  /** Every expected job has arrived and none is left unfinished. */
  allDone(): boolean {
    return this.#arrived === this.#expected && this.#active.size === 0;
  }

  arrive(spec: TraceJob, index: number): void {
    const job = newJob(this.#trace, spec, index);
    this.all.push(job);
    this.#active.add(job);
    this.#arrived += 1;
    this.#spawn(job, 'prepare', 0, (job.durations.get('prepare') as number[])[0]);
  }

  /** A task's activity finished: queue what the workflow runs next. */
  complete(task: Task): void {
    const job = task.job;
    const q = STAGE_QUEUE[task.stage];
    job.remaining[q] = (job.remaining[q] ?? 0) - 1;
    switch (task.stage) {
      case 'prepare':
        this.#spawn(job, 'keyframe', 0, (job.durations.get('keyframe') as number[])[0]);
        return;
      case 'keyframe': {
        job.keyframesDone += 1;
        if (job.keyframesDone < job.shape.length)
          this.#spawn(
            job,
            'keyframe',
            job.keyframesDone,
            (job.durations.get('keyframe') as number[])[job.keyframesDone],
          );
        this.#advance(job, task.segment);
        return;
      }
      case 'stitch':
        job.done = this.#timeline.now;
        this.#active.delete(job);
        this.finished.push(job);
        return;
      default: {
        job.left[task.segment] -= 1;
        if (job.left[task.segment] > 0) return;
        if (task.stage === 'encode') {
          job.encoded += 1;
          if (job.encoded === job.shape.length)
            this.#spawn(job, 'stitch', 0, (job.durations.get('stitch') as number[])[0]);
          return;
        }
        this.#advance(job, task.segment);
      }
    }
  }

  /** What the scaler sees of the unfinished jobs. */
  observe(): JobObservation[] {
    return [...this.#active].map((j) => ({
      jobId: j.spec.id,
      startedAt: j.spec.arrival,
      ...(j.deadline !== undefined ? { deadline: j.deadline } : {}),
      remaining: { ...j.remaining },
    }));
  }

  #spawn(job: Job, stage: Stage, segment: number, work: number): void {
    const now = this.#timeline.now;
    this.#dispatch.enqueue({
      job,
      stage,
      segment,
      work,
      queuedAt: now,
      priority: deadlinePriority(job.deadline, now),
    });
  }

  /** Starts the segment's next non-empty phase. */
  #advance(job: Job, seg: number): void {
    for (let ph = job.phase[seg] + 1; ph < PHASES.length; ph++) {
      const name = PHASES[ph];
      const works = job.durations.get(`${seg}:${name}`) as number[];
      if (works.length === 0) continue;
      job.phase[seg] = ph;
      job.left[seg] = works.length;
      for (const w of works) this.#spawn(job, PHASE_STAGE[name], seg, w);
      return;
    }
    job.phase[seg] = PHASES.length;
  }
}
