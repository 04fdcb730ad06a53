/**
 * `vldm scaler simulate`: the three policies on one trace, and whether ours meets its targets.
 * Static provisioning is sized by search, not by guess: starting from every queue's pool at its
 * maximum, each pool is lowered to the fewest replicas that still meet as many deadlines as the
 * maximum did (and finish every job), on on-demand pools and on spot pools; the cheaper wins.
 */
import type { QueueRole } from '../common/names';
import { cheapestPool, kedaPolicy, ourPolicy, staticPolicy, KEDA_DEFAULTS } from './policies';
import { simulate, type SimResult } from './simulate';
import { traceJobs, type Trace, type TraceJob } from './trace';

export interface StaticSizing {
  /** Which pools static provisioning uses: on-demand or spot ones. */
  variant: 'on-demand' | 'spot';
  replicas: Record<string, number>;
  /** The hit rate it had to match: static at every pool's maximum, on-demand. */
  targetHitRate: number;
  /** Simulations run by the search. */
  runs: number;
}

export interface Comparison {
  trace: {
    description: string;
    seed: number;
    horizonHours: number;
    jobs: number;
    deadlineJobs: number;
    stageSecondsSource: string;
  };
  static: StaticSizing;
  results: { static: SimResult; keda: SimResult; ours: SimResult };
  /** KEDA with other targetQueueSize values, to show the comparison does not hinge on one setting. */
  kedaSweep: SimResult[];
  targets: {
    /** Ours costs ≥ 30 % less GPU than static. */
    cheaperThanStaticBy30: boolean;
    gpuSavingVsStatic: number;
    /** Ours meets at least as many deadlines as static. */
    hitRateAtLeastStatic: boolean;
    /** Ours is no dearer and no worse at deadlines than the KEDA-like policy. */
    notWorseThanKeda: boolean;
  };
}

const EPS = 1e-9;

function sizeStatic(
  trace: Trace,
  jobs: TraceJob[],
  variant: StaticSizing['variant'],
  targetHitRate: number,
): { replicas: Record<string, number>; result: SimResult; runs: number } {
  const cfg = trace.cluster;
  const roles = [...new Set(cfg.pools.flatMap((p) => p.queues))] as QueueRole[];
  const chosen = [
    ...new Set(
      roles
        .map((q) => cheapestPool(cfg, q, (p) => p.spot === (variant === 'spot'))?.name)
        .filter((n): n is string => n !== undefined),
    ),
  ];
  const replicas: Record<string, number> = Object.fromEntries(
    cfg.pools.map((p) => [p.name, chosen.includes(p.name) ? p.maxReplicas : p.minReplicas]),
  );
  let runs = 0;
  const run = (r: Record<string, number>) => {
    runs += 1;
    return simulate(trace, staticPolicy(r), jobs);
  };
  const ok = (res: SimResult) => res.finished === res.jobs && res.hitRate >= targetHitRate - EPS;
  // Two passes of per-pool bisection: lowering one pool can let another go lower in the next pass.
  for (let pass = 0; pass < 2; pass++) {
    let changed = false;
    for (const name of chosen) {
      const pool = cfg.pools.find((p) => p.name === name);
      if (!pool) continue;
      let lo = Math.max(1, pool.minReplicas);
      let hi = replicas[name];
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if (ok(run({ ...replicas, [name]: mid }))) hi = mid;
        else lo = mid + 1;
      }
      if (hi !== replicas[name]) changed = true;
      replicas[name] = hi;
    }
    if (!changed) break;
  }
  return { replicas, result: run(replicas), runs };
}

export function compare(trace: Trace, opts: { kedaSweep?: number[] } = {}): Comparison {
  const jobs = traceJobs(trace);
  const cfg = trace.cluster;
  // The deadlines static provisioning can meet at all: every queue's on-demand pool at its maximum.
  const roles = [...new Set(cfg.pools.flatMap((p) => p.queues))] as QueueRole[];
  const full: Record<string, number> = Object.fromEntries(cfg.pools.map((p) => [p.name, p.minReplicas]));
  for (const q of roles) {
    const p = cheapestPool(cfg, q, (x) => !x.spot);
    if (p) full[p.name] = p.maxReplicas;
  }
  const target = simulate(trace, staticPolicy(full), jobs).hitRate;
  const candidates = (['on-demand', 'spot'] as const).map((variant) => ({
    variant,
    ...sizeStatic(trace, jobs, variant, target),
  }));
  const meets = candidates.filter(
    (c) => c.result.hitRate >= target - EPS && c.result.finished === c.result.jobs,
  );
  const pick = (meets.length ? meets : candidates).sort((a, b) => a.result.gpuCost - b.result.gpuCost)[0];
  const stat = { ...pick.result, policy: `static (${pick.variant})` };

  const keda = simulate(trace, kedaPolicy(cfg), jobs);
  const ours = simulate(trace, ourPolicy(), jobs);
  const sweep = (opts.kedaSweep ?? [1, 2, 10])
    .filter((x) => x !== KEDA_DEFAULTS.targetQueueSize)
    .map((x) => simulate(trace, kedaPolicy(cfg, { targetQueueSize: x }), jobs));
  const saving = stat.gpuCost > 0 ? 1 - ours.gpuCost / stat.gpuCost : 0;
  return {
    trace: {
      description: trace.description,
      seed: trace.seed,
      horizonHours: trace.horizonHours,
      jobs: jobs.length,
      deadlineJobs: jobs.filter((j) => j.deadlineAfter !== undefined).length,
      stageSecondsSource: trace.stageSecondsSource,
    },
    static: {
      variant: pick.variant,
      replicas: pick.replicas,
      targetHitRate: target,
      runs: candidates.reduce((a, c) => a + c.runs, 0) + 1,
    },
    results: { static: stat, keda, ours },
    kedaSweep: sweep,
    targets: {
      cheaperThanStaticBy30: saving >= 0.3,
      gpuSavingVsStatic: saving,
      hitRateAtLeastStatic: ours.hitRate >= stat.hitRate - EPS,
      notWorseThanKeda: ours.gpuCost <= keda.gpuCost + EPS && ours.hitRate >= keda.hitRate - EPS,
    },
  };
}
