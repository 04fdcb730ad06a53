/**
 * A discrete-event simulator of the cluster vldm runs on, to compare scaling policies on a trace:
 * pools of pods that are billed from the moment they get a node, start in `coldStartSeconds`, run one
 * activity at a time, are preempted (spot, with notice) and stay unschedulable during spot shortages;
 * jobs whose activities follow the real plan (planJob) and the workflows' order (keyframe chain;
 * per segment: interpolation pass 0, pass 1, decode, upscale, encode; then stitch). Every
 * `controlIntervalSeconds` the policy sees what the real scaler would see (ScalerInput) and sets each
 * pool's replica count; scale-downs remove pods the way a ReplicaSet does (unscheduled, then
 * not-ready, then the most recently ready), and a removed worker's running activity gets the shutdown
 * grace, then resumes elsewhere from its last checkpoint.
 */
import type { Stage } from '../common/progress';
import type { QueueRole } from '../common/names';
import { deadlinePriority } from '../common/priority';
import {
  STAGE_QUEUE,
  type JobObservation,
  type PoolObservation,
  type QueueObservation,
  type ScalerInput,
} from './decide';
import type { PoolConfig } from './pools';
import { Rng, jobShape, traceJobs, type SegmentShape, type Trace, type TraceJob } from './trace';

/** A scaling policy as the simulator drives it: observations in, replicas per pool out. */
export interface SimPolicy {
  readonly name: string;
  decide(input: ScalerInput): Record<string, number>;
}

export interface PoolUsage {
  pool: string;
  gpu: boolean;
  spot: boolean;
  /** Billed pod-hours (from getting a node to going away). */
  podHours: number;
  /** Pod-hours spent running activities (the rest is cold start and idling). */
  busyHours: number;
  cost: number;
  /** Pods that got a node (each paid a cold start). */
  coldStarts: number;
  preemptions: number;
  peakReplicas: number;
}

export interface JobOutcome {
  id: string;
  seconds: number;
  arrival: number;
  /** Completion time, seconds after the trace start; absent when it never finished. */
  done?: number;
  deadline?: number;
  met?: boolean;
}

export interface SimResult {
  policy: string;
  /** Cost of pools with GPUs. */
  gpuCost: number;
  /** Cost of all pools (GPU and CPU). */
  totalCost: number;
  jobs: number;
  finished: number;
  deadlineJobs: number;
  deadlinesMet: number;
  /** deadlinesMet / deadlineJobs (1 when no job has a deadline). */
  hitRate: number;
  /** Job latency (arrival to done), seconds. */
  latencyP50: number;
  latencyP95: number;
  /** Seconds of work redone because a pod went away mid-activity (since the last checkpoint). */
  lostWorkSeconds: number;
  /** When the run ended (all jobs done, and the arrival window over). Hours. */
  endHours: number;
  pools: PoolUsage[];
  outcomes: JobOutcome[];
}

/** Simulated time runs out this long after the arrival window, whatever is unfinished. Seconds. */
const OVERTIME_SECONDS = 48 * 3600;
/** Queue statistics average over this window, like Temporal's add and dispatch rates. Seconds. */
const RATE_WINDOW = 30;

interface Task {
  job: Job;
  stage: Stage;
  segment: number;
  /** Work left, in seconds on a speed-1 pod. */
  work: number;
  queuedAt: number;
  /** Temporal priority key (1 first). */
  priority: number;
}

interface Job {
  spec: TraceJob;
  index: number;
  shape: SegmentShape[];
  durations: Map<string, number[]>;
  deadline?: number;
  keyframesDone: number;
  /** Per segment: the phase being rendered (0 pass0, 1 pass1, 2 decode, 3 upscale, 4 encode, 5 done) and its tasks left. */
  phase: number[];
  left: number[];
  encoded: number;
  remaining: Partial<Record<QueueRole, number>>;
  done?: number;
}

interface Pod {
  id: number;
  pool: PoolConfig;
  state: 'unschedulable' | 'starting' | 'ready' | 'draining';
  createdAt: number;
  billedFrom?: number;
  readyAt?: number;
  idleSince: number;
  task?: Task;
  taskStart: number;
  /** Bumped whenever the pod's scheduled events become stale. */
  epoch: number;
  removed: boolean;
}

type Event =
  | { kind: 'arrive'; job: TraceJob; index: number }
  | { kind: 'ready' | 'done' | 'notice' | 'kill'; pod: Pod; epoch: number }
  | { kind: 'shortage'; on: boolean }
  | { kind: 'tick' };

/** A binary min-heap of events by (time, insertion order): ties resolve in a fixed order. */
class EventQueue {
  #h: Array<{ t: number; seq: number; e: Event }> = [];
  #seq = 0;
  get size(): number {
    return this.#h.length;
  }
  push(t: number, e: Event): void {
    const h = this.#h;
    h.push({ t, seq: this.#seq++, e });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#less(h[i], h[p])) {
        [h[i], h[p]] = [h[p], h[i]];
        i = p;
      } else break;
    }
  }
  pop(): { t: number; e: Event } {
    const h = this.#h;
    const top = h[0];
    const last = h.pop() as (typeof h)[number];
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l], h[m])) m = l;
        if (r < h.length && this.#less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
  #less(a: { t: number; seq: number }, b: { t: number; seq: number }): boolean {
    return a.t < b.t || (a.t === b.t && a.seq < b.seq);
  }
}

/** A FIFO queue of tasks with O(1) push and shift. */
class Fifo {
  #items: Task[] = [];
  #head = 0;
  get length(): number {
    return this.#items.length - this.#head;
  }
  push(t: Task): void {
    this.#items.push(t);
  }
  peek(): Task | undefined {
    return this.#items[this.#head];
  }
  shift(): Task | undefined {
    const t = this.#items[this.#head];
    if (t === undefined) return undefined;
    this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return t;
  }
}

/** A task queue as Temporal's matching dispatches it: lowest priority key first, FIFO within a key. */
class TaskQueue {
  #byKey = new Map<number, Fifo>();
  #keys: number[] = [];
  #length = 0;
  get length(): number {
    return this.#length;
  }
  push(t: Task): void {
    let f = this.#byKey.get(t.priority);
    if (!f) {
      f = new Fifo();
      this.#byKey.set(t.priority, f);
      this.#keys.push(t.priority);
      this.#keys.sort((a, b) => a - b);
    }
    f.push(t);
    this.#length += 1;
  }
  #first(): Fifo | undefined {
    for (const k of this.#keys) {
      const f = this.#byKey.get(k) as Fifo;
      if (f.length) return f;
    }
    return undefined;
  }
  peek(): Task | undefined {
    return this.#first()?.peek();
  }
  /** The oldest task, whatever its key (for the backlog age). */
  oldest(): Task | undefined {
    let o: Task | undefined;
    for (const f of this.#byKey.values()) {
      const h = f.peek();
      if (h && (!o || h.queuedAt < o.queuedAt)) o = h;
    }
    return o;
  }
  shift(): Task | undefined {
    const t = this.#first()?.shift();
    if (t) this.#length -= 1;
    return t;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i];
}

/** Seed of a job's own generator, so its task durations do not depend on the policy's choices. */
function jobSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

/** Spot shortages over the whole run, drawn once from the seed: the same for every policy. */
function shortages(trace: Trace, until: number): Array<[number, number]> {
  const rng = new Rng((trace.seed ^ 0x5bd1e995) >>> 0);
  const out: Array<[number, number]> = [];
  if (trace.spot.meanShortageMinutes <= 0) return out;
  let t = rng.exp(trace.spot.meanHoursBetweenShortages * 3600);
  while (t < until) {
    const len = rng.exp(trace.spot.meanShortageMinutes * 60);
    out.push([t, t + len]);
    t += len + rng.exp(trace.spot.meanHoursBetweenShortages * 3600);
  }
  return out;
}

const PHASES = ['pass0', 'pass1', 'decode', 'upscale', 'encode'] as const;
const PHASE_STAGE: Record<(typeof PHASES)[number], Stage> = {
  pass0: 'interpolation',
  pass1: 'interpolation',
  decode: 'decode',
  upscale: 'upscale',
  encode: 'encode',
};

export function simulate(trace: Trace, policy: SimPolicy, jobsIn: TraceJob[] = traceJobs(trace)): SimResult {
  const cfg = trace.cluster;
  const horizon = trace.horizonHours * 3600;
  const stopAt = horizon + OVERTIME_SECONDS;
  const events = new EventQueue();
  const preemptRng = new Rng((trace.seed ^ 0x27d4eb2f) >>> 0);
  const roles = [...new Set(cfg.pools.flatMap((p) => p.queues))];
  const queues = new Map<QueueRole, TaskQueue>(roles.map((q) => [q, new TaskQueue()]));
  const added = new Map<QueueRole, number[]>(roles.map((q) => [q, []]));
  const dispatched = new Map<QueueRole, number[]>(roles.map((q) => [q, []]));
  const running = new Map<QueueRole, number>(roles.map((q) => [q, 0]));
  const pods = new Map<string, Pod[]>(cfg.pools.map((p) => [p.name, []]));
  const desired = new Map<string, number>(cfg.pools.map((p) => [p.name, 0]));
  const usage = new Map<string, PoolUsage>(
    cfg.pools.map((p) => [
      p.name,
      {
        pool: p.name,
        gpu: p.gpusPerPod > 0,
        spot: p.spot,
        podHours: 0,
        busyHours: 0,
        cost: 0,
        coldStarts: 0,
        preemptions: 0,
        peakReplicas: 0,
      },
    ]),
  );
  const active = new Set<Job>();
  const finished: Job[] = [];
  const allJobs: Job[] = [];
  let nextPod = 0;
  let lostWork = 0;
  let shortage = false;
  let t = 0;

  for (const [i, j] of jobsIn.entries()) events.push(j.arrival, { kind: 'arrive', job: j, index: i });
  for (const [a, b] of shortages(trace, stopAt)) {
    events.push(a, { kind: 'shortage', on: true });
    events.push(b, { kind: 'shortage', on: false });
  }
  events.push(0, { kind: 'tick' });

  function bill(pod: Pod): void {
    if (pod.billedFrom === undefined) return;
    const u = usage.get(pod.pool.name) as PoolUsage;
    const hours = (t - pod.billedFrom) / 3600;
    u.podHours += hours;
    u.cost += hours * pod.pool.pricePerHour;
    pod.billedFrom = undefined;
  }

  function removePod(pod: Pod): void {
    if (pod.removed) return;
    bill(pod);
    pod.removed = true;
    pod.epoch += 1;
    const list = pods.get(pod.pool.name) as Pod[];
    list.splice(list.indexOf(pod), 1);
  }

  function enqueue(task: Task): void {
    const q = STAGE_QUEUE[task.stage];
    task.queuedAt = t;
    (queues.get(q) as TaskQueue).push(task);
    (added.get(q) as number[]).push(t);
    // The pod waiting longest gets it, as Temporal's long polls are answered in order.
    let best: Pod | undefined;
    for (const pool of cfg.pools) {
      if (!pool.queues.includes(q)) continue;
      for (const pod of pods.get(pool.name) as Pod[]) {
        if (pod.state === 'ready' && !pod.task && (!best || pod.idleSince < best.idleSince)) best = pod;
      }
    }
    if (best) pull(best);
  }

  function pull(pod: Pod): void {
    if (pod.state !== 'ready' || pod.task) return;
    let from: TaskQueue | undefined;
    let role: QueueRole | undefined;
    for (const q of pod.pool.queues) {
      const tq = queues.get(q) as TaskQueue;
      const head = tq.peek();
      const cur = from?.peek();
      if (
        head &&
        (!cur ||
          head.priority < cur.priority ||
          (head.priority === cur.priority && head.queuedAt < cur.queuedAt))
      ) {
        from = tq;
        role = q;
      }
    }
    if (!from || !role) return;
    const task = from.shift() as Task;
    pod.task = task;
    pod.taskStart = t;
    running.set(role, (running.get(role) ?? 0) + 1);
    (dispatched.get(role) as number[]).push(t);
    events.push(t + task.work / pod.pool.speedFactor, { kind: 'done', pod, epoch: pod.epoch });
  }

  /** Stop the pod's activity: the work since its last checkpoint is lost, the rest resumes elsewhere. */
  function interrupt(pod: Pod): void {
    const task = pod.task;
    if (!task) return;
    const q = STAGE_QUEUE[task.stage];
    (usage.get(pod.pool.name) as PoolUsage).busyHours += (t - pod.taskStart) / 3600;
    const done = (t - pod.taskStart) * pod.pool.speedFactor;
    const kept = Math.floor(done / trace.checkpointSeconds) * trace.checkpointSeconds;
    lostWork += done - kept;
    task.work = Math.max(task.work - kept, 1e-3);
    pod.task = undefined;
    pod.epoch += 1;
    running.set(q, (running.get(q) ?? 0) - 1);
    enqueue(task);
  }

  function startPod(pod: Pod): void {
    pod.state = 'starting';
    pod.billedFrom = t;
    (usage.get(pod.pool.name) as PoolUsage).coldStarts += 1;
    events.push(t + pod.pool.coldStartSeconds, { kind: 'ready', pod, epoch: pod.epoch });
    if (pod.pool.spot && trace.spot.preemptionsPerPodHour > 0) {
      events.push(t + preemptRng.exp(3600 / trace.spot.preemptionsPerPodHour), {
        kind: 'notice',
        pod,
        epoch: pod.epoch,
      });
    }
  }

  function createPod(pool: PoolConfig): void {
    const pod: Pod = {
      id: nextPod++,
      pool,
      state: 'unschedulable',
      createdAt: t,
      idleSince: t,
      taskStart: 0,
      epoch: 0,
      removed: false,
    };
    (pods.get(pool.name) as Pod[]).push(pod);
    if (!(pool.spot && shortage)) startPod(pod);
  }

  /** Make the pool's live pods match its replica count, removing the way a ReplicaSet ranks pods. */
  function reconcile(pool: PoolConfig): void {
    const want = desired.get(pool.name) ?? 0;
    const live = (pods.get(pool.name) as Pod[]).filter((p) => p.state !== 'draining');
    for (let i = live.length; i < want; i++) createPod(pool);
    if (live.length <= want) return;
    const rank = (p: Pod) => (p.state === 'unschedulable' ? 0 : p.state === 'starting' ? 1 : 2);
    const victims = live
      .sort(
        (a, b) => rank(a) - rank(b) || (b.readyAt ?? b.createdAt) - (a.readyAt ?? a.createdAt) || b.id - a.id,
      )
      .slice(0, live.length - want);
    for (const pod of victims) {
      if (pod.task) {
        pod.state = 'draining';
        events.push(t + trace.graceSeconds, { kind: 'kill', pod, epoch: pod.epoch });
      } else removePod(pod);
    }
  }

  function newJob(spec: TraceJob, index: number): Job {
    const shape = jobShape(trace, spec.seconds);
    const rng = new Rng(jobSeed(trace.seed, index));
    const draw = (stage: Stage, n: number) =>
      Array.from({ length: n }, () => trace.stageSeconds[stage] * Math.exp(trace.jitter * rng.normal()));
    const durations = new Map<string, number[]>();
    durations.set('prepare', draw('prepare', 1));
    durations.set('keyframe', draw('keyframe', shape.length));
    shape.forEach((s, i) => {
      for (const ph of PHASES)
        durations.set(`${i}:${ph}`, draw(PHASE_STAGE[ph], ph === 'encode' ? 1 : s[ph]));
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

  function spawn(job: Job, stage: Stage, segment: number, work: number): void {
    enqueue({ job, stage, segment, work, queuedAt: t, priority: deadlinePriority(job.deadline, t) });
  }

  /** Start the segment's next non-empty phase. */
  function advance(job: Job, seg: number): void {
    for (let ph = job.phase[seg] + 1; ph < PHASES.length; ph++) {
      const name = PHASES[ph];
      const works = job.durations.get(`${seg}:${name}`) as number[];
      if (works.length === 0) continue;
      job.phase[seg] = ph;
      job.left[seg] = works.length;
      for (const w of works) spawn(job, PHASE_STAGE[name], seg, w);
      return;
    }
    job.phase[seg] = PHASES.length;
  }

  function complete(task: Task): void {
    const job = task.job;
    const q = STAGE_QUEUE[task.stage];
    job.remaining[q] = (job.remaining[q] ?? 0) - 1;
    switch (task.stage) {
      case 'prepare':
        spawn(job, 'keyframe', 0, (job.durations.get('keyframe') as number[])[0]);
        return;
      case 'keyframe': {
        job.keyframesDone += 1;
        if (job.keyframesDone < job.shape.length)
          spawn(
            job,
            'keyframe',
            job.keyframesDone,
            (job.durations.get('keyframe') as number[])[job.keyframesDone],
          );
        advance(job, task.segment);
        return;
      }
      case 'stitch':
        job.done = t;
        active.delete(job);
        finished.push(job);
        return;
      default: {
        job.left[task.segment] -= 1;
        if (job.left[task.segment] > 0) return;
        if (task.stage === 'encode') {
          job.encoded += 1;
          if (job.encoded === job.shape.length)
            spawn(job, 'stitch', 0, (job.durations.get('stitch') as number[])[0]);
          return;
        }
        advance(job, task.segment);
      }
    }
  }

  function observe(): ScalerInput {
    const qs: Partial<Record<QueueRole, QueueObservation>> = {};
    for (const q of roles) {
      const tq = queues.get(q) as TaskQueue;
      for (const m of [added, dispatched]) {
        const list = m.get(q) as number[];
        let k = 0;
        while (k < list.length && list[k] <= t - RATE_WINDOW) k++;
        if (k) list.splice(0, k);
      }
      qs[q] = {
        backlog: tq.length,
        backlogAgeSeconds: tq.length ? t - (tq.oldest() as Task).queuedAt : 0,
        addRate: (added.get(q) as number[]).length / RATE_WINDOW,
        dispatchRate: (dispatched.get(q) as number[]).length / RATE_WINDOW,
        running: running.get(q) ?? 0,
      };
    }
    const jobs: JobObservation[] = [...active].map((j) => ({
      jobId: j.spec.id,
      startedAt: j.spec.arrival,
      ...(j.deadline !== undefined ? { deadline: j.deadline } : {}),
      remaining: { ...j.remaining },
    }));
    const ps: Record<string, PoolObservation> = {};
    for (const pool of cfg.pools) {
      const list = pods.get(pool.name) as Pod[];
      const uns = list.filter((p) => p.state === 'unschedulable');
      ps[pool.name] = {
        replicas: desired.get(pool.name) ?? 0,
        ready: list.filter((p) => p.state === 'ready').length,
        pending: uns.length + list.filter((p) => p.state === 'starting').length,
        unschedulable: uns.length,
        oldestUnschedulableSeconds: uns.length ? t - Math.min(...uns.map((p) => p.createdAt)) : 0,
      };
    }
    return { now: t, config: cfg, queues: qs, jobs, pools: ps };
  }

  let arrived = 0;
  while (events.size) {
    const { t: at, e } = events.pop();
    if (at > stopAt) break;
    t = at;
    switch (e.kind) {
      case 'arrive': {
        const job = newJob(e.job, e.index);
        allJobs.push(job);
        active.add(job);
        arrived += 1;
        spawn(job, 'prepare', 0, (job.durations.get('prepare') as number[])[0]);
        break;
      }
      case 'shortage':
        shortage = e.on;
        if (!e.on)
          for (const pool of cfg.pools)
            for (const pod of pods.get(pool.name) as Pod[]) if (pod.state === 'unschedulable') startPod(pod);
        break;
      case 'ready':
        if (e.pod.removed || e.epoch !== e.pod.epoch || e.pod.state !== 'starting') break;
        e.pod.state = 'ready';
        e.pod.readyAt = t;
        e.pod.idleSince = t;
        pull(e.pod);
        break;
      case 'done': {
        const pod = e.pod;
        if (pod.removed || e.epoch !== pod.epoch || !pod.task) break;
        const task = pod.task;
        const q = STAGE_QUEUE[task.stage];
        (usage.get(pod.pool.name) as PoolUsage).busyHours += (t - pod.taskStart) / 3600;
        pod.task = undefined;
        running.set(q, (running.get(q) ?? 0) - 1);
        complete(task);
        if (pod.state === 'draining') removePod(pod);
        else {
          pod.idleSince = t;
          pull(pod);
        }
        break;
      }
      case 'notice': {
        const pod = e.pod;
        if (pod.removed || pod.state === 'draining' || pod.state === 'unschedulable') break;
        (usage.get(pod.pool.name) as PoolUsage).preemptions += 1;
        // The node goes away after the notice; its worker drains and the Deployment replaces the pod.
        const epoch = pod.epoch;
        pod.state = 'draining';
        events.push(t + trace.spot.noticeSeconds, { kind: 'kill', pod, epoch });
        reconcile(pod.pool);
        break;
      }
      case 'kill': {
        const pod = e.pod;
        if (pod.removed) break;
        interrupt(pod);
        removePod(pod);
        break;
      }
      case 'tick': {
        const input = observe();
        const want = policy.decide(input);
        for (const pool of cfg.pools) {
          desired.set(pool.name, Math.max(0, Math.min(pool.maxReplicas, Math.round(want[pool.name] ?? 0))));
          reconcile(pool);
          const u = usage.get(pool.name) as PoolUsage;
          u.peakReplicas = Math.max(u.peakReplicas, desired.get(pool.name) ?? 0);
        }
        const allDone = arrived === jobsIn.length && active.size === 0;
        if (!(allDone && t >= horizon)) events.push(t + trace.controlIntervalSeconds, { kind: 'tick' });
        break;
      }
    }
    if (e.kind === 'tick' && arrived === jobsIn.length && active.size === 0 && t >= horizon) break;
  }
  // The run ends when the arrival window is over and the last job is done (or time ran out): pods
  // still up are billed until then, not until the control round that noticed it.
  const lastDone = finished.reduce((a, j) => Math.max(a, j.done ?? 0), 0);
  const end = finished.length === jobsIn.length ? Math.min(t, Math.max(horizon, lastDone)) : t;
  t = end;
  for (const pool of cfg.pools) for (const pod of [...(pods.get(pool.name) as Pod[])]) removePod(pod);

  const outcomes: JobOutcome[] = allJobs.map((j) => ({
    id: j.spec.id,
    seconds: j.spec.seconds,
    arrival: j.spec.arrival,
    ...(j.done !== undefined ? { done: j.done } : {}),
    ...(j.deadline !== undefined
      ? { deadline: j.deadline, met: j.done !== undefined && j.done <= j.deadline }
      : {}),
  }));
  const latencies = allJobs.map((j) => (j.done ?? end) - j.spec.arrival).sort((a, b) => a - b);
  const withDeadline = outcomes.filter((o) => o.deadline !== undefined);
  const met = withDeadline.filter((o) => o.met).length;
  const pools = [...usage.values()];
  return {
    policy: policy.name,
    gpuCost: pools.filter((p) => p.gpu).reduce((a, p) => a + p.cost, 0),
    totalCost: pools.reduce((a, p) => a + p.cost, 0),
    jobs: jobsIn.length,
    finished: finished.length,
    deadlineJobs: withDeadline.length,
    deadlinesMet: met,
    hitRate: withDeadline.length ? met / withDeadline.length : 1,
    latencyP50: percentile(latencies, 0.5),
    latencyP95: percentile(latencies, 0.95),
    lostWorkSeconds: lostWork,
    endHours: end / 3600,
    pools,
    outcomes,
  };
}
