/**
 * The scaler's decision: from what it observed (per queue backlog and running activities, per job
 * deadline and remaining work, per pool replicas) to the replica count of every pool, each with the
 * reason in words. Pure and deterministic: all state it needs from earlier decisions comes in as
 * `memory` and goes out updated, so the control loop, the simulator and the tests drive the same code.
 *
 * Policy, per task queue q (s = pod-seconds per activity, c = cold start of the pool new pods come
 * from, r = ready capacity in speed-1 pods, T = time to a deadline minus the work that must follow q
 * and a margin):
 *  - each running job's remaining work on q is due by its deadline (its memo's; else its start +
 *    defaultDeadlineSeconds, a soft one). The work done before a job's is: everything ahead of it in
 *    the queue (Temporal dispatches first in, first out: every job started earlier, and as much of
 *    each later job as of its own, since their tasks interleave), and everything due earlier that
 *    can still be on time. For that work W the capacity needed is W/T when the ready pods can do it
 *    (W ≤ r·T), else r + (W − r·T)/(T − c): new pods only work after their cold start. So a pod is
 *    added only when the work outlasts a cold start of the pods there are (W > r·T > r·c), and the
 *    count is the smallest that meets every deadline: pod-seconds of work are fixed, so the fewest
 *    pods pay the fewest cold starts;
 *  - a deadline no pool size can meet any more (T ≤ c + s, or more pods than the pools may have) is
 *    given up in every queue; its work is finished best-effort, within c + max(c, s);
 *  - whatever the deadlines, the known work (queued, running, and what running jobs still have to
 *    send) is drained within `drainColdStarts` cold starts: a new pod still works that many times as
 *    long as it took to start, and work left in a FIFO queue would hold up every job behind it;
 *  - capacity never exceeds the tasks that can run at once (the keyframe chain is sequential: one
 *    task per job);
 *  - pods already there are used first and kept while a task is there for them: their cold start is
 *    paid, and the same work on more pods costs the same pod-seconds. New pods come from the cheapest
 *    pool per unit of work, spot first. On-demand pods are bought only for deadlines still within
 *    reach, when a spot pool's pods stay unschedulable past spotPendingTimeoutSeconds (no spot
 *    capacity), or with onDemandFor "deadlines" also when spot is at its maximum; work without a
 *    deadline waits for spot;
 *  - a pool goes down only to the highest recommendation of its scale-down window (default its cold
 *    start: rent-or-buy), except pods not yet on a node, which cost nothing to drop, and pools no
 *    running job has work left for (none will come back before a new job starts): those go at once;
 *  - the summed price never exceeds maxPricePerHour: replicas are removed, dearest work first, keeping
 *    one pod on every queue with work as long as the cap allows.
 */
import type { QueueRole } from '../common/names';
import type { Stage } from '../common/progress';
import { deadlinePriority, TEMPORAL_DEFAULT_PRIORITY } from '../common/priority';
import { scaleDownDelay, type PoolConfig, type PoolsConfig } from './pools';

export interface QueueObservation {
  /** Tasks waiting to be picked up (Temporal's approximateBacklogCount). */
  backlog: number;
  /** Age of the oldest waiting task. Seconds. */
  backlogAgeSeconds: number;
  /** Tasks added per second (30 s average), when Temporal reports it. */
  addRate?: number;
  /** Tasks dispatched per second (30 s average), when Temporal reports it. */
  dispatchRate?: number;
  /** Activities started and not yet finished. */
  running: number;
}

export interface JobObservation {
  jobId: string;
  /** When the job must be done, epoch seconds; absent when it has no deadline. */
  deadline?: number;
  /** When the job started, epoch seconds. */
  startedAt: number;
  /** Activities of the job not finished yet (queued, running and future), per queue; absent when unknown. */
  remaining?: Partial<Record<QueueRole, number>>;
}

export interface PoolObservation {
  /** The Deployment's replica count now (spec). */
  replicas: number;
  /** Pods ready (their worker polls). */
  ready: number;
  /** Pods not ready yet: unschedulable or starting. */
  pending: number;
  /** Of the pending pods, those the scheduler could not place on a node (PodScheduled=False). */
  unschedulable: number;
  /** Age of the oldest unschedulable pod, 0 when none. Seconds. */
  oldestUnschedulableSeconds: number;
}

/** What the decision remembers between calls (per pool). */
export interface PoolMemory {
  /** Recent recommendations (before damping), for the scale-down window. */
  recommendations: Array<{ at: number; replicas: number }>;
  /** Last time this spot pool was seen without capacity, epoch seconds. */
  spotStalledAt?: number;
}

export interface ScalerMemory {
  pools: Record<string, PoolMemory>;
  /** Per queue: when tasks no running job accounts for were last seen, epoch seconds. */
  unattributedAt?: Partial<Record<QueueRole, number>>;
}

export interface ScalerInput {
  /** Epoch seconds. */
  now: number;
  config: PoolsConfig;
  queues: Partial<Record<QueueRole, QueueObservation>>;
  jobs: JobObservation[];
  pools: Record<string, PoolObservation>;
  /** The previous decision's memory; absent on a fresh start (a new leader). */
  memory?: ScalerMemory;
}

export interface QueueNeed {
  /** Capacity needed, in pods of speed 1. */
  pods: number;
  /** Tasks that could run at once (the parallelism cap). */
  parallel: number;
  /** Ready capacity now, in pods of speed 1. */
  ready: number;
  /** Why, in words. */
  reason: string;
}

export interface PoolDecision {
  pool: string;
  deployment: string;
  /** Replicas before this decision. */
  current: number;
  /** Replicas decided. */
  replicas: number;
  reason: string;
}

export interface Decision {
  at: number;
  pools: PoolDecision[];
  queues: Partial<Record<QueueRole, QueueNeed>>;
  /** Summed price per hour of the decided replicas. */
  pricePerHour: number;
  memory: ScalerMemory;
}

/**
 * Activities of a job that still run after its last activity on a queue, in pipeline order
 * (workflows/job.ts, workflows/segment.ts): the keyframe chain feeds two interpolation passes, then
 * decode, upscale, the segment's encode and the job's stitch. Renders fan out, so one activity of each.
 */
export const DOWNSTREAM: Record<QueueRole, ReadonlyArray<readonly [QueueRole, number]>> = {
  orchestration: [],
  keyframe: [
    ['interpolation', 2],
    ['decode', 1],
    ['upscale', 1],
    ['media', 2],
  ],
  interpolation: [
    ['decode', 1],
    ['upscale', 1],
    ['media', 2],
  ],
  decode: [
    ['upscale', 1],
    ['media', 2],
  ],
  upscale: [['media', 2]],
  media: [],
};

/** Which queue runs each stage's activities (activities/index.ts QUEUE_ACTIVITIES). */
export const STAGE_QUEUE: Record<Stage, QueueRole> = {
  prepare: 'media',
  keyframe: 'keyframe',
  interpolation: 'interpolation',
  decode: 'decode',
  upscale: 'upscale',
  encode: 'media',
  stitch: 'media',
};

/** Queues whose tasks of one job run one after another: at most one task per job at a time. */
export const SEQUENTIAL_QUEUES: ReadonlySet<QueueRole> = new Set<QueueRole>(['keyframe']);

const EMPTY_QUEUE: QueueObservation = { backlog: 0, backlogAgeSeconds: 0, running: 0 };
const EMPTY_POOL: PoolObservation = {
  replicas: 0,
  ready: 0,
  pending: 0,
  unschedulable: 0,
  oldestUnschedulableSeconds: 0,
};
/** Below this, a fraction of a pod is rounding noise, not demand. */
const EPS = 1e-6;

/** A pod count for reasons: whole when it is, one decimal, or one significant digit when small. */
const fmt = (x: number) =>
  x > 0 && x < 0.05
    ? x.toPrecision(1)
    : Math.abs(x - Math.round(x)) < 0.05
      ? String(Math.round(x))
      : x.toFixed(1);

/** Cheapest work first: price per unit of throughput, spot before on-demand at equal price, then name. */
function byCostPerWork(a: PoolConfig, b: PoolConfig): number {
  return (
    a.pricePerHour / a.speedFactor - b.pricePerHour / b.speedFactor ||
    Number(b.spot) - Number(a.spot) ||
    a.name.localeCompare(b.name)
  );
}

/** Seconds that must follow a queue's last activity of a job before the job is done. */
function tailSeconds(cfg: PoolsConfig, q: QueueRole): number {
  let t = 0;
  for (const [down, n] of DOWNSTREAM[q]) {
    const s = cfg.secondsPerActivity[down];
    const speed = Math.max(0, ...cfg.pools.filter((p) => p.queues.includes(down)).map((p) => p.speedFactor));
    if (s !== undefined && speed > 0) t += (n * s) / speed;
  }
  return t;
}

interface WorkItem {
  due: number;
  /** When its tasks started entering the queue (the job's start): its place in the FIFO. */
  since: number;
  tasks: number;
  what: string;
  /** The job it belongs to (absent for queued tasks no job accounts for). */
  jobId?: string;
  /** A deadline the user asked for (not the default pace). */
  hard: boolean;
  /** Priority key its tasks are scheduled with now (1 first). */
  priority: number;
}

interface QueueDemand extends QueueNeed {
  /** Capacity for deadlines that can still be met: may use any pool. */
  deadlinePods: number;
  /** Tasks queued or running now. */
  runnable: number;
  /** Jobs whose deadline this queue cannot meet even with every pool at its maximum. */
  lost: Set<string>;
  /** Queued or running tasks no running job accounts for. */
  unattributed: number;
}

/** Pools whose work is cheapest: spot ones (all of them when no spot pool serves the queue). */
function isEconomy(p: PoolConfig, pools: PoolConfig[]): boolean {
  return p.spot || !pools.some((x) => x.spot);
}

/**
 * Whether deadlines may use the queue's dearer (on-demand) pools now: when a spot pool serving it
 * has no capacity (its pods stay unschedulable), or, with `onDemandFor: "deadlines"`, always.
 */
function dearPoolsForDeadlines(cfg: PoolsConfig, pools: PoolConfig[], stalled: ReadonlySet<string>): boolean {
  return cfg.onDemandFor === 'deadlines' || pools.some((p) => isEconomy(p, pools) && stalled.has(p.name));
}

/**
 * Capacity (speed-1 pods) a queue needs: for every work item, the work that must be done before it
 * (everything due earlier that can still be on time, and everything ahead of it in the FIFO queue)
 * within its time left. Items of `lostJobs`, and items no pool size can make on time, are finished
 * best-effort on economy pools.
 */
function queueDemand(
  cfg: PoolsConfig,
  q: QueueRole,
  input: ScalerInput,
  stalled: ReadonlySet<string>,
  lostJobs: ReadonlySet<string>,
): QueueDemand {
  const now = input.now;
  const obs = input.queues[q] ?? EMPTY_QUEUE;
  const s = cfg.secondsPerActivity[q] ?? 0;
  const pools = cfg.pools.filter((p) => p.queues.includes(q)).sort(byCostPerWork);
  const share = (p: PoolConfig, pods: number) => (pods * p.speedFactor) / p.queues.length;
  const ready = pools.reduce((a, p) => a + share(p, (input.pools[p.name] ?? EMPTY_POOL).ready), 0);
  // The most capacity deadlines can get: economy pools at their maximum (a stalled one: what is
  // ready), and the dearer pools when the policy lets deadlines use them now.
  const dearUsable = dearPoolsForDeadlines(cfg, pools, stalled);
  const maxCapacity = pools.reduce(
    (a, p) =>
      a +
      (isEconomy(p, pools) || dearUsable
        ? share(p, stalled.has(p.name) ? (input.pools[p.name] ?? EMPTY_POOL).ready : p.maxReplicas)
        : 0),
    0,
  );
  // New pods come from the cheapest pool that can still grow; its cold start is what they wait.
  const source =
    pools.find((p) => !stalled.has(p.name) && (input.pools[p.name]?.replicas ?? 0) < p.maxReplicas) ??
    pools[0];
  const c = source?.coldStartSeconds ?? 0;
  const taskSeconds = s / (source?.speedFactor ?? 1);

  const items: WorkItem[] = [];
  let attributed = 0;
  let jobsWithWork = 0;
  for (const j of input.jobs) {
    const n = j.remaining?.[q] ?? 0;
    if (n <= 0) continue;
    jobsWithWork += 1;
    attributed += n;
    const hard = j.deadline !== undefined && !lostJobs.has(j.jobId);
    items.push({
      due: j.deadline ?? j.startedAt + cfg.defaultDeadlineSeconds,
      since: j.startedAt,
      tasks: n,
      what: `job ${j.jobId}`,
      jobId: j.jobId,
      hard,
      priority: deadlinePriority(j.deadline, now),
    });
  }
  // Tasks on the queue that no job's progress accounts for (a job that does not answer queries, or
  // work of another client): due a default deadline after the oldest of them was queued.
  const outstanding = obs.backlog + obs.running;
  const unattributed = Math.max(0, outstanding - attributed);
  const queuedSince = now - obs.backlogAgeSeconds;
  if (unattributed > 0) {
    items.push({
      due: queuedSince + cfg.defaultDeadlineSeconds,
      since: queuedSince,
      tasks: unattributed,
      what: `${unattributed} queued task(s)`,
      hard: false,
      priority: TEMPORAL_DEFAULT_PRIORITY,
    });
  }
  items.sort((a, b) => a.due - b.due || a.since - b.since || a.what.localeCompare(b.what));

  const parallel = Math.max(outstanding, SEQUENTIAL_QUEUES.has(q) ? jobsWithWork + unattributed : attributed);
  const base = { parallel, ready, runnable: outstanding, lost: new Set<string>(), unattributed };
  if (items.length === 0 || s === 0) return { ...base, pods: 0, deadlinePods: 0, reason: `${q}: idle` };

  const tail = tailSeconds(cfg, q);
  /** Pods needed to do `work` within `T`: the ready ones from now, new ones after their cold start. */
  const podsFor = (work: number, T: number) =>
    work <= ready * T ? work / T : ready + (work - ready * T) / Math.max(T - c, EPS);
  const bestEffortT = c + Math.max(c, taskSeconds);
  let all = 0;
  let hardNeed = 0;
  let binding = '';
  const hopeless: WorkItem[] = [];
  for (const item of items) {
    // Done before this item: everything Temporal dispatches first (a lower priority key, or the same
    // key queued earlier: first in, first out within a key), and everything due earlier that is still
    // meant to be on time. Work of the same key queued later interleaves with this item's; work of a
    // higher key waits.
    const work = items.reduce((a, x) => {
      const first = x.priority < item.priority || (x.priority === item.priority && x.since <= item.since);
      const dueFirst = x.due <= item.due && !hopeless.includes(x);
      const n =
        first || dueFirst ? x.tasks : x.priority === item.priority ? Math.min(x.tasks, item.tasks) : 0;
      return a + n * s;
    }, 0);
    // On time only if the ready pods manage it, or new pods have time to start and finish a task,
    // and no more pods than the pools can have are needed. The margin is kept in hand when it can
    // be; a deadline is given up only when it cannot be met even without it.
    const reachable = (T: number) =>
      (work <= ready * T || T > c + taskSeconds) && podsFor(work, T) <= maxCapacity + EPS;
    const bare = item.due - now - tail;
    const T = reachable(bare - cfg.deadlineMarginSeconds) ? bare - cfg.deadlineMarginSeconds : bare;
    let n = podsFor(work, T);
    const onTime = reachable(T);
    if (!onTime) {
      hopeless.push(item);
      if (item.hard && item.jobId) base.lost.add(item.jobId);
      n = podsFor(work, Math.max(T, bestEffortT));
    }
    if (n > all + EPS) {
      all = n;
      binding = `${item.what} due in ${Math.round(item.due - now)} s${onTime ? '' : ' (best-effort)'}`;
    }
    if (onTime && item.hard) hardNeed = Math.max(hardNeed, n);
  }
  // Whatever the deadlines, what is queued now is drained within a few cold starts: each new pod
  // still works `drainColdStarts` times as long as it took to start, and work left waiting in a
  // first-in-first-out queue would hold up every job queued behind it.
  const known = Math.max(outstanding, attributed + unattributed);
  const drain = podsFor(known * s, c * (1 + cfg.drainColdStarts));
  if (drain > all + EPS) {
    all = drain;
    binding = `draining ${known} task(s) (queued, running or still to come) within ${cfg.drainColdStarts} cold starts`;
  }
  const parts = [`${obs.backlog} queued`, `${obs.running} running`];
  if (jobsWithWork) parts.push(`${attributed} left in ${jobsWithWork} job(s)`);
  const total = Math.round(items.reduce((a, x) => a + x.tasks * s, 0));
  let reason = `${q}: ${parts.join(', ')} (${total} pod-s of work); needs ${fmt(all)} pod(s) for ${binding}`;
  if (hardNeed > EPS && hardNeed + EPS < all) reason += `, ${fmt(hardNeed)} of them for deadlines`;
  const lostHard = hopeless.filter(
    (x) => x.jobId && input.jobs.some((j) => j.jobId === x.jobId && j.deadline !== undefined),
  ).length;
  if (lostHard)
    reason += `; ${lostHard} deadline(s) out of reach, finishing those best-effort on economy pools`;
  return { ...base, pods: all, deadlinePods: Math.min(hardNeed, all), reason };
}

function freshMemory(input: ScalerInput): ScalerMemory {
  const pools: Record<string, PoolMemory> = {};
  for (const p of input.config.pools) {
    const prev = input.memory?.pools[p.name];
    const horizon = input.now - scaleDownDelay(input.config, p);
    pools[p.name] = prev
      ? {
          recommendations: prev.recommendations.filter((r) => r.at >= horizon),
          ...(prev.spotStalledAt !== undefined ? { spotStalledAt: prev.spotStalledAt } : {}),
        }
      : // A fresh leader knows nothing of the recent past: it holds today's replicas for one window.
        { recommendations: [{ at: input.now, replicas: (input.pools[p.name] ?? EMPTY_POOL).replicas }] };
  }
  // A fresh leader cannot know what the last window saw: it counts as having seen unknown work now.
  const unattributedAt = input.memory
    ? { ...input.memory.unattributedAt }
    : Object.fromEntries(input.config.pools.flatMap((p) => p.queues).map((q) => [q, input.now]));
  return { pools, unattributedAt };
}

export function decide(input: ScalerInput): Decision {
  const { now, config: cfg } = input;
  const memory = freshMemory(input);
  const obsOf = (p: PoolConfig) => input.pools[p.name] ?? EMPTY_POOL;

  // Spot pools without capacity: pods unschedulable past the timeout, or recently so.
  const stalled = new Set<string>();
  for (const p of cfg.pools) {
    if (!p.spot) continue;
    const o = obsOf(p);
    const mem = memory.pools[p.name];
    if (o.unschedulable > 0 && o.oldestUnschedulableSeconds >= cfg.damping.spotPendingTimeoutSeconds)
      mem.spotStalledAt = now;
    if (mem.spotStalledAt !== undefined && now - mem.spotStalledAt < cfg.damping.spotRetrySeconds)
      stalled.add(p.name);
    else delete mem.spotStalledAt;
  }

  // Pods each pool can offer without a new cold start: ready ones and those starting on a node.
  // Unschedulable pods are not capacity yet: they are asked for again below, where they belong.
  const existing = new Map<string, number>();
  for (const p of cfg.pools) {
    const o = obsOf(p);
    const starting = Math.max(0, o.pending - o.unschedulable);
    existing.set(p.name, Math.min(o.ready + starting, p.maxReplicas));
  }

  const roles = [...new Set(cfg.pools.flatMap((p) => p.queues))];
  const alloc = new Map<string, number>(cfg.pools.map((p) => [p.name, 0]));
  const notes = new Map<string, string[]>(cfg.pools.map((p) => [p.name, []]));
  const queues: Partial<Record<QueueRole, QueueNeed>> = {};
  const hasWork = new Set<QueueRole>();

  // Pass 1 finds the jobs some queue cannot finish on time even at its maximum size; pass 2 plans
  // with those as best-effort everywhere, so no queue buys on-demand pods for a deadline already lost.
  const lostJobs = new Set<string>();
  for (const q of roles)
    for (const id of queueDemand(cfg, q, input, stalled, lostJobs).lost) lostJobs.add(id);
  for (const q of roles) {
    const need = queueDemand(cfg, q, input, stalled, lostJobs);
    queues[q] = { pods: need.pods, parallel: need.parallel, ready: need.ready, reason: need.reason };
    if (need.pods > EPS || need.runnable > 0) hasWork.add(q);
    if (need.unattributed > 0) (memory.unattributedAt ??= {})[q] = now;
    const pools = cfg.pools.filter((p) => p.queues.includes(q)).sort(byCostPerWork);
    // Dearer (on-demand) pools are the fallback for spot capacity that is not there (or, if so
    // configured, for spot pools at their maximum), and only for deadlines that can still be met;
    // work without a deadline waits for economy capacity.
    const dearUsable = dearPoolsForDeadlines(cfg, pools, stalled);
    // Why new on-demand pods are bought, for their pool's reason (and so its ScaledUp Event).
    const stalledSpot = pools.filter((p) => isEconomy(p, pools) && stalled.has(p.name)).map((p) => p.name);
    const fallback = stalledSpot.length
      ? ` (spot pool ${stalledSpot.join(', ')} without capacity)`
      : ' (deadline work beyond the spot pools)';
    let hard = need.deadlinePods; // capacity for deadlines still to place, speed-1 pods
    let soft = Math.max(0, need.pods - need.deadlinePods); // the rest, economy pools only
    let tasks = need.parallel; // parallel tasks still without a pod
    let runnable = need.runnable; // tasks queued or running now, still without a pod
    const take = (p: PoolConfig, maxPods: number, label: 'keeps' | 'adds') => {
      const economy = isEconomy(p, pools);
      // On-demand pods there are kept for deadline work they cover (so work that moved to them in a
      // spot shortage stays until done, rather than waiting again for spot); new ones only when allowed.
      const units = economy ? hard + soft : label === 'keeps' || dearUsable ? hard : 0;
      // A pod already there costs the same pod-seconds whether it works now or the work waits for
      // fewer pods: it is kept while there is a task for it (queued or running), even beyond the need.
      const byRunnable = label === 'keeps' && economy ? runnable / p.activitiesPerPod : 0;
      const pods = Math.min(maxPods, tasks / p.activitiesPerPod, Math.max(units / p.speedFactor, byRunnable));
      if (pods <= EPS) return;
      alloc.set(p.name, (alloc.get(p.name) ?? 0) + pods);
      let cap = pods * p.speedFactor;
      const fromHard = Math.min(hard, cap);
      hard -= fromHard;
      cap -= fromHard;
      if (economy) soft = Math.max(0, soft - cap);
      tasks = Math.max(0, tasks - pods * p.activitiesPerPod);
      runnable = Math.max(0, runnable - pods * p.activitiesPerPod);
      notes
        .get(p.name)
        ?.push(`${label} ${fmt(pods)} for ${q}${!economy && label === 'adds' ? fallback : ''}`);
    };
    // Pods already there first (their cold start is paid), cheapest first.
    for (const p of pools) {
      const free = (existing.get(p.name) ?? 0) - (alloc.get(p.name) ?? 0);
      if (free > EPS) take(p, free, 'keeps');
    }
    // Then new pods from the cheapest pool with room; a stalled spot pool gets none.
    for (const p of pools) {
      if ((hard <= EPS && soft <= EPS) || tasks <= EPS) break;
      if (stalled.has(p.name)) {
        notes
          .get(p.name)
          ?.push(
            `spot capacity unavailable (pods unschedulable over ${cfg.damping.spotPendingTimeoutSeconds} s), not growing`,
          );
        continue;
      }
      const room = p.maxReplicas - Math.max(alloc.get(p.name) ?? 0, existing.get(p.name) ?? 0);
      if (room > EPS) take(p, room, 'adds');
    }
    if (hard > EPS && tasks > EPS) {
      for (const p of pools)
        notes.get(p.name)?.push(`${q} short of ${fmt(hard)} pod(s) for deadlines: pools at maxReplicas`);
    }
  }

  const decisions: PoolDecision[] = [];
  const replicas = new Map<string, number>();
  for (const p of cfg.pools) {
    const o = obsOf(p);
    const mem = memory.pools[p.name];
    const recommended = Math.min(
      p.maxReplicas,
      Math.max(p.minReplicas, Math.ceil((alloc.get(p.name) ?? 0) - EPS)),
    );
    mem.recommendations.push({ at: now, replicas: recommended });
    // Scale-down window: hold the highest recent recommendation, but only for pods on a node.
    const windowMax = Math.max(...mem.recommendations.map((r) => r.replicas));
    const onNodes = o.ready + Math.max(0, o.pending - o.unschedulable);
    // The window guards against work that comes back. When no running job has anything left for
    // the pool's queues and no task of unknown origin was seen within the window, none will come
    // back before a new job arrives (whose work reaches a GPU stage only after the stages before
    // it): the pods go at once.
    const window = scaleDownDelay(cfg, p);
    const knownIdle = p.queues.every(
      (q) => !hasWork.has(q) && now - (memory.unattributedAt?.[q] ?? -Infinity) > window,
    );
    const held = knownIdle ? recommended : Math.max(recommended, Math.min(windowMax, onNodes, o.replicas));
    replicas.set(p.name, held);
    const why = notes.get(p.name) ?? [];
    if (held > recommended)
      why.push(`held at ${held} by the ${window} s scale-down window (recommended ${recommended})`);
    if (recommended === p.minReplicas && p.minReplicas > 0 && (alloc.get(p.name) ?? 0) < p.minReplicas)
      why.push(`minReplicas ${p.minReplicas}`);
    decisions.push({
      pool: p.name,
      deployment: p.deployment,
      current: o.replicas,
      replicas: held,
      reason: '',
    });
    notes.set(p.name, why);
  }

  // The price cap is hard: remove replicas, dearest work first, the last pod of a busy queue last.
  const price = () => cfg.pools.reduce((a, p) => a + (replicas.get(p.name) ?? 0) * p.pricePerHour, 0);
  const capped = new Set<string>();
  while (price() > cfg.maxPricePerHour + EPS) {
    const servesAlone = (p: PoolConfig) =>
      p.queues.some(
        (q) =>
          hasWork.has(q) &&
          cfg.pools
            .filter((o) => o.queues.includes(q))
            .reduce((a, o) => a + (replicas.get(o.name) ?? 0), 0) <= 1,
      );
    const candidates = cfg.pools
      .filter((p) => (replicas.get(p.name) ?? 0) > p.minReplicas)
      .sort((a, b) => -byCostPerWork(a, b));
    const victim = candidates.find((p) => !servesAlone(p)) ?? candidates[0];
    if (!victim) break; // unreachable: validation keeps the minReplicas within the cap
    replicas.set(victim.name, (replicas.get(victim.name) ?? 0) - 1);
    capped.add(victim.name);
  }

  for (const d of decisions) {
    const p = cfg.pools.find((x) => x.name === d.pool) as PoolConfig;
    d.replicas = replicas.get(p.name) ?? 0;
    const why = notes.get(p.name) ?? [];
    if (capped.has(p.name)) why.push(`cut to ${d.replicas} by maxPricePerHour ${cfg.maxPricePerHour}`);
    const queueWhy = p.queues.map((q) => queues[q]?.reason).filter(Boolean);
    const head = d.replicas === d.current ? `stays at ${d.replicas}` : `${d.current} → ${d.replicas}`;
    const idle = p.queues.every((q) => !hasWork.has(q));
    d.reason = `${p.name} ${head}: ${idle && d.replicas === p.minReplicas ? 'no work' : why.join('; ') || 'no change needed'} [${queueWhy.join(' | ')}]`;
  }
  return { at: now, pools: decisions, queues, pricePerHour: price(), memory };
}
