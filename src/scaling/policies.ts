/**
 * The scaling policies the simulator compares: ours (the real decision function), a backlog-
 * proportional policy modelled on KEDA's Temporal scaler driving an HPA, and static provisioning.
 */
import type { QueueRole } from '../common/names';
import { decide, type ScalerInput, type ScalerMemory } from './decide';
import type { PoolConfig, PoolsConfig } from './pools';
import type { SimPolicy } from './simulate';

/** Ours: `decide`, with its memory carried from one control interval to the next. */
export function ourPolicy(): SimPolicy {
  let memory: ScalerMemory | undefined;
  return {
    name: 'ours',
    decide(input: ScalerInput) {
      const d = decide({ ...input, ...(memory ? { memory } : {}) });
      memory = d.memory;
      return Object.fromEntries(d.pools.map((p) => [p.pool, p.replicas]));
    },
  };
}

/** Fixed replica counts, whatever happens. */
export function staticPolicy(replicas: Record<string, number>, name = 'static'): SimPolicy {
  return { name, decide: () => ({ ...replicas }) };
}

export interface KedaOptions {
  /** Backlog per replica the HPA aims at (KEDA's `targetQueueSize`). @default 5 */
  targetQueueSize: number;
  /** Backlog above which the scaler is active (leaves zero). @default 0 */
  activationTargetQueueSize: number;
  /** Inactive this long before KEDA scales to zero (`cooldownPeriod`). Seconds. @default 300 */
  cooldownPeriodSeconds: number;
  /** HPA scale-down stabilisation window. Seconds. @default 300 */
  stabilizationWindowSeconds: number;
  /** HPA tolerance: no change while the metric is within this ratio of the target. @default 0.1 */
  tolerance: number;
}

export const KEDA_DEFAULTS: KedaOptions = {
  targetQueueSize: 5,
  activationTargetQueueSize: 0,
  cooldownPeriodSeconds: 300,
  stabilizationWindowSeconds: 300,
  tolerance: 0.1,
};

/** The pool a single-pool-per-queue policy uses: the cheapest per unit of work (spot first). */
export function cheapestPool(
  cfg: PoolsConfig,
  q: QueueRole,
  filter: (p: PoolConfig) => boolean = () => true,
): PoolConfig | undefined {
  const serving = cfg.pools.filter((p) => p.queues.includes(q));
  const pick = (list: PoolConfig[]) =>
    [...list].sort(
      (a, b) =>
        a.pricePerHour / a.speedFactor - b.pricePerHour / b.speedFactor ||
        Number(b.spot) - Number(a.spot) ||
        a.name.localeCompare(b.name),
    )[0];
  return pick(serving.filter(filter)) ?? pick(serving);
}

/**
 * Backlog-proportional scaling as KEDA's Temporal scaler does it: one ScaledObject per queue on its
 * cheapest pool, metric = the queue's backlog (approximateBacklogCount), HPA AverageValue target
 * `targetQueueSize` per replica, activation above `activationTargetQueueSize`, zero after
 * `cooldownPeriod` inactive; the HPA's defaults: scale-down stabilisation window, 10 % tolerance,
 * scale-up by at most max(100 %, 4 pods) per step. It sees neither running activities, deadlines nor
 * prices, which is the point of comparing with it.
 */
export function kedaPolicy(cfg: PoolsConfig, opts: Partial<KedaOptions> = {}): SimPolicy {
  const o = { ...KEDA_DEFAULTS, ...opts };
  const targets = new Map<string, QueueRole[]>();
  for (const q of [...new Set(cfg.pools.flatMap((p) => p.queues))]) {
    const pool = cheapestPool(cfg, q);
    if (pool) targets.set(pool.name, [...(targets.get(pool.name) ?? []), q]);
  }
  const lastActive = new Map<string, number>();
  const recs = new Map<string, Array<{ at: number; replicas: number }>>();
  return {
    name: `keda(targetQueueSize=${o.targetQueueSize})`,
    decide(input: ScalerInput) {
      const out: Record<string, number> = {};
      for (const pool of cfg.pools) {
        const qs = targets.get(pool.name);
        const current = input.pools[pool.name]?.replicas ?? 0;
        if (!qs) {
          out[pool.name] = pool.minReplicas;
          continue;
        }
        const backlog = Math.max(...qs.map((q) => input.queues[q]?.backlog ?? 0));
        const active = backlog > o.activationTargetQueueSize;
        if (active) lastActive.set(pool.name, input.now);
        const floor = Math.max(1, pool.minReplicas);
        let want: number;
        if (current === 0) want = active ? floor : pool.minReplicas;
        else if (!active && input.now - (lastActive.get(pool.name) ?? -Infinity) >= o.cooldownPeriodSeconds)
          want = pool.minReplicas;
        else {
          let raw = Math.ceil(backlog / o.targetQueueSize);
          if (Math.abs(backlog / (o.targetQueueSize * current) - 1) <= o.tolerance) raw = current;
          raw = Math.min(pool.maxReplicas, Math.max(floor, raw), Math.max(2 * current, current + 4));
          const list = (recs.get(pool.name) ?? []).filter(
            (r) => r.at > input.now - o.stabilizationWindowSeconds,
          );
          list.push({ at: input.now, replicas: raw });
          recs.set(pool.name, list);
          want = raw >= current ? raw : Math.min(current, Math.max(...list.map((r) => r.replicas)));
        }
        out[pool.name] = want;
      }
      return out;
    },
  };
}
