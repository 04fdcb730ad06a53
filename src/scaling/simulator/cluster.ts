/**
 * The simulated cluster and its bill: each pool's pods, billed from the moment they get a node, ready
 * after a cold start, preempted with notice (spot) and left unschedulable during spot shortages; and
 * the replica counts the policy sets, met the way a ReplicaSet scales (removing unscheduled pods first,
 * then not-ready ones, then the most recently ready; a busy pod drains for the shutdown grace).
 */
import type { QueueRole } from '../../common/names';
import type { PoolObservation } from '../decide';
import type { PoolConfig } from '../pools';
import { Rng, type Trace } from '../trace';
import type { Timeline } from './events';
import type { Pod } from './model';
import type { PoolUsage } from './results';

/** Spot shortages over the whole run, drawn once from the seed: the same for every policy. */
export function spotShortages(trace: Trace, until: number): Array<[number, number]> {
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

export class Cluster {
  readonly #trace: Trace;
  readonly #timeline: Timeline;
  readonly #pools: PoolConfig[];
  readonly #pods: Map<string, Pod[]>;
  readonly #desired: Map<string, number>;
  readonly #usage: Map<string, PoolUsage>;
  readonly #preemptRng: Rng;
  #nextPod = 0;
  #shortage = false;

  constructor(trace: Trace, timeline: Timeline) {
    this.#trace = trace;
    this.#timeline = timeline;
    this.#pools = trace.cluster.pools;
    this.#pods = new Map(this.#pools.map((p) => [p.name, []]));
    this.#desired = new Map(this.#pools.map((p) => [p.name, 0]));
    this.#usage = new Map(
      this.#pools.map((p) => [
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
    this.#preemptRng = new Rng((trace.seed ^ 0x27d4eb2f) >>> 0);
  }

  /** Every pool's usage so far, in the pools file's order. */
  usage(): PoolUsage[] {
    return [...this.#usage.values()];
  }

  /** The ready, idle pod serving the queue that has waited longest, as Temporal answers long polls in order. */
  longestIdle(q: QueueRole): Pod | undefined {
    let best: Pod | undefined;
    for (const pool of this.#pools) {
      if (!pool.queues.includes(q)) continue;
      for (const pod of this.#podsOf(pool)) {
        if (pod.state === 'ready' && !pod.task && (!best || pod.idleSince < best.idleSince)) best = pod;
      }
    }
    return best;
  }

  /** Counts the pod's time on its current activity as busy. */
  recordBusy(pod: Pod): void {
    this.#usageOf(pod).busyHours += (this.#timeline.now - pod.taskStart) / 3600;
  }

  /** A shortage leaves new spot pods unschedulable; its end schedules the waiting ones. */
  setShortage(on: boolean): void {
    this.#shortage = on;
    if (on) return;
    for (const pool of this.#pools)
      for (const pod of this.#podsOf(pool)) if (pod.state === 'unschedulable') this.#startPod(pod);
  }

  /** The pod's cold start is over; false when that event is stale. */
  markReady(pod: Pod, epoch: number): boolean {
    if (pod.removed || epoch !== pod.epoch || pod.state !== 'starting') return false;
    const now = this.#timeline.now;
    pod.state = 'ready';
    pod.readyAt = now;
    pod.idleSince = now;
    return true;
  }

  /** A spot preemption notice: the node goes away after it, and the Deployment replaces the pod. */
  preempt(pod: Pod): void {
    if (pod.removed || pod.state === 'draining' || pod.state === 'unschedulable') return;
    this.#usageOf(pod).preemptions += 1;
    const epoch = pod.epoch;
    pod.state = 'draining';
    this.#timeline.at(this.#timeline.now + this.#trace.spot.noticeSeconds, { kind: 'kill', pod, epoch });
    this.#reconcile(pod.pool);
  }

  /** Sets each pool's replica count from the policy's answer, within the pool's bounds. */
  scale(want: Record<string, number>): void {
    for (const pool of this.#pools) {
      const replicas = Math.max(0, Math.min(pool.maxReplicas, Math.round(want[pool.name] ?? 0)));
      this.#desired.set(pool.name, replicas);
      this.#reconcile(pool);
      const u = this.#usage.get(pool.name) as PoolUsage;
      u.peakReplicas = Math.max(u.peakReplicas, this.#desired.get(pool.name) ?? 0);
    }
  }

  /** Bills the pod up to now and takes it out of its pool; its pending events become stale. */
  removePod(pod: Pod): void {
    if (pod.removed) return;
    this.#bill(pod);
    pod.removed = true;
    pod.epoch += 1;
    const list = this.#podsOf(pod.pool);
    list.splice(list.indexOf(pod), 1);
  }

  /** Removes every pod (the run is over), billing each up to now. */
  removeAll(): void {
    for (const pool of this.#pools) for (const pod of [...this.#podsOf(pool)]) this.removePod(pod);
  }

  /** What the scaler sees of each pool. */
  observe(): Record<string, PoolObservation> {
    const now = this.#timeline.now;
    const ps: Record<string, PoolObservation> = {};
    for (const pool of this.#pools) {
      const list = this.#podsOf(pool);
      const uns = list.filter((p) => p.state === 'unschedulable');
      ps[pool.name] = {
        replicas: this.#desired.get(pool.name) ?? 0,
        ready: list.filter((p) => p.state === 'ready').length,
        pending: uns.length + list.filter((p) => p.state === 'starting').length,
        unschedulable: uns.length,
        oldestUnschedulableSeconds: uns.length ? now - Math.min(...uns.map((p) => p.createdAt)) : 0,
      };
    }
    return ps;
  }

  #podsOf(pool: PoolConfig): Pod[] {
    return this.#pods.get(pool.name) as Pod[];
  }

  #usageOf(pod: Pod): PoolUsage {
    return this.#usage.get(pod.pool.name) as PoolUsage;
  }

  #bill(pod: Pod): void {
    if (pod.billedFrom === undefined) return;
    const u = this.#usageOf(pod);
    const hours = (this.#timeline.now - pod.billedFrom) / 3600;
    u.podHours += hours;
    u.cost += hours * pod.pool.pricePerHour;
    pod.billedFrom = undefined;
  }

  #startPod(pod: Pod): void {
    const now = this.#timeline.now;
    const spot = this.#trace.spot;
    pod.state = 'starting';
    pod.billedFrom = now;
    this.#usageOf(pod).coldStarts += 1;
    this.#timeline.at(now + pod.pool.coldStartSeconds, { kind: 'ready', pod, epoch: pod.epoch });
    if (pod.pool.spot && spot.preemptionsPerPodHour > 0) {
      this.#timeline.at(now + this.#preemptRng.exp(3600 / spot.preemptionsPerPodHour), {
        kind: 'notice',
        pod,
        epoch: pod.epoch,
      });
    }
  }

  #createPod(pool: PoolConfig): void {
    const now = this.#timeline.now;
    const pod: Pod = {
      id: this.#nextPod++,
      pool,
      state: 'unschedulable',
      createdAt: now,
      idleSince: now,
      taskStart: 0,
      epoch: 0,
      removed: false,
    };
    this.#podsOf(pool).push(pod);
    if (!(pool.spot && this.#shortage)) this.#startPod(pod);
  }

  /** Makes the pool's live pods match its replica count, removing the way a ReplicaSet ranks pods. */
  #reconcile(pool: PoolConfig): void {
    const want = this.#desired.get(pool.name) ?? 0;
    const live = this.#podsOf(pool).filter((p) => p.state !== 'draining');
    for (let i = live.length; i < want; i++) this.#createPod(pool);
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
        this.#timeline.at(this.#timeline.now + this.#trace.graceSeconds, {
          kind: 'kill',
          pod,
          epoch: pod.epoch,
        });
      } else this.removePod(pod);
    }
  }
}
