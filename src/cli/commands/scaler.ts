/**
 * `vldm scaler run | simulate | measure`: the cost-aware scaler's control loop against Temporal and
 * Kubernetes, the policy comparison on a simulated cluster, and the measurement of stage speeds from
 * a finished job (docs/scaling.md).
 */
import os from 'node:os';
import { UserError } from '../../common/errors';
import type { VldmConfig } from '../../config/config';
import type { KubeScaleTarget } from '../../scaling/kube';
import { makeOut } from '../io';

/**
 * Modules loaded only by the subcommand that needs them (a simulation never loads the Kubernetes or
 * Temporal clients). CommonJS require, as in main.ts: a dynamic import() would stay an ES import.
 */
function load<M>(path: string): M {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path) as M;
}

export interface ScalerRunFlags {
  pools?: string;
  lease?: string;
  interval?: string;
  kubeconfig?: string;
  kubeNamespace?: string;
  identity?: string;
  once?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

function positive(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !(n > 0))
    throw new UserError(`--${flag} must be a number of seconds > 0, got "${v}"`);
  return n;
}

/** The scaler's identity in the Lease and Events: the pod name in a cluster, else the host name. */
function identityOf(flags: ScalerRunFlags): string {
  return flags.identity ?? process.env.POD_NAME ?? `${os.hostname()}-${process.pid}`;
}

export async function scalerRun(flags: ScalerRunFlags, cfg: VldmConfig): Promise<number> {
  if (!flags.pools) throw new UserError('--pools is required (the pools file, docs/scaling.md)');
  const interval = positive('interval', flags.interval, 15);
  const { loadPoolsConfig } = load<typeof import('../../scaling/pools')>('../../scaling/pools');
  const config = loadPoolsConfig(flags.pools);
  const { KubeScaleTarget } = load<typeof import('../../scaling/kube')>('../../scaling/kube');
  const { LeaderElector } = load<typeof import('../../scaling/leader')>('../../scaling/leader');
  const { ScalerLoop, natsDecisionSink } = load<typeof import('../../scaling/loop')>('../../scaling/loop');
  const { observeTemporal } = load<typeof import('../../scaling/temporal')>('../../scaling/temporal');
  const { connectTemporal } = load<typeof import('../../client/jobs')>('../../client/jobs');

  const identity = identityOf(flags);
  const namespace = flags.kubeNamespace ?? process.env.POD_NAMESPACE ?? 'default';
  // `<ISO time> <line>`, or a JSON line with --log-format json (src/observability/log.ts).
  const { logLine } = load<typeof import('../../observability/log')>('../../observability/log');
  const log = (line: string) => logLine(line, { component: 'scaler' });
  const real = new KubeScaleTarget({
    namespace,
    identity,
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
  });
  // A dry run reads everything and writes nothing: no scale, no Event, no Lease.
  const target = flags.dryRun
    ? { ...pick(real), setScale: async () => undefined, recordEvent: async () => undefined }
    : real;
  const client = await connectTemporal(cfg.temporalAddress, cfg.namespace);
  const sink = cfg.natsUrl === 'off' || flags.dryRun ? undefined : await natsDecisionSink(cfg.natsUrl, log);
  const elector =
    flags.once || flags.dryRun
      ? undefined
      : new LeaderElector(real, { name: flags.lease ?? 'vldm-scaler', identity });
  const loop = new ScalerLoop({
    config,
    target,
    observe: (roles) => observeTemporal(client, cfg.namespace, roles),
    ...(elector ? { elector } : {}),
    ...(sink ? { sink } : {}),
    log,
  });
  try {
    if (flags.once || flags.dryRun) {
      const step = await loop.step();
      const out = makeOut(Boolean(flags.json));
      if (flags.json)
        out.result({
          ...step,
          decision: step.decision ? { ...step.decision, memory: undefined } : undefined,
        });
      else for (const d of step.decision?.pools ?? []) out.info(d.reason);
      return step.skipped ? 1 : 0;
    }
    log(
      `scaler ${identity}: ${config.pools.length} pools in namespace ${namespace}, Temporal ${cfg.temporalAddress}/${cfg.namespace}, every ${interval} s`,
    );
    const { serveScalerObservability } = load<typeof import('../../scaling/observability')>(
      '../../scaling/observability',
    );
    const http = await serveScalerObservability(loop, interval, log);
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    try {
      await loop.run(interval, abort.signal);
    } finally {
      await http?.close();
    }
    return 0;
  } finally {
    await sink?.close();
    await client.connection.close();
  }
}

/** The read half of a ScaleTarget, bound (for the dry run). */
function pick(t: KubeScaleTarget) {
  return {
    getScale: t.getScale.bind(t),
    listPods: t.listPods.bind(t),
    getLease: t.getLease.bind(t),
    createLease: t.createLease.bind(t),
    updateLease: t.updateLease.bind(t),
  };
}

export interface ScalerSimulateFlags {
  trace?: string;
  seed?: string;
  json?: boolean;
}

const money = (x: number) => x.toFixed(2);
const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

export async function scalerSimulate(flags: ScalerSimulateFlags): Promise<number> {
  const { loadTrace, defaultTrace } = load<typeof import('../../scaling/trace')>('../../scaling/trace');
  const { compare } = load<typeof import('../../scaling/compare')>('../../scaling/compare');
  let trace = flags.trace ? loadTrace(flags.trace) : defaultTrace();
  if (flags.seed !== undefined) {
    if (!/^\d+$/.test(flags.seed))
      throw new UserError(`--seed must be a non-negative integer, got "${flags.seed}"`);
    trace = { ...trace, seed: Number(flags.seed) };
  }
  const c = compare(trace);
  const out = makeOut(Boolean(flags.json));
  if (flags.json) {
    out.result(c);
    return 0;
  }
  out.info(`trace: ${c.trace.description}`);
  out.info(
    `seed ${c.trace.seed}, ${c.trace.horizonHours} h, ${c.trace.jobs} jobs (${c.trace.deadlineJobs} with deadlines)`,
  );
  out.info(`stage speeds: ${c.trace.stageSecondsSource}`);
  const rows = [c.results.static, c.results.keda, c.results.ours, ...c.kedaSweep];
  out.info('');
  out.info(
    `${'policy'.padEnd(26)} ${'GPU cost'.padStart(9)} ${'all cost'.padStart(9)} ${'deadlines met'.padStart(16)} ${'p50'.padStart(9)} ${'p95'.padStart(9)}`,
  );
  for (const r of rows) {
    out.info(
      `${r.policy.padEnd(26)} ${money(r.gpuCost).padStart(9)} ${money(r.totalCost).padStart(9)} ${`${r.deadlinesMet}/${r.deadlineJobs} ${pct(r.hitRate)}`.padStart(16)} ${minutes(r.latencyP50).padStart(9)} ${minutes(r.latencyP95).padStart(9)}`,
    );
  }
  out.info('');
  out.info('pod-hours by pool (billed / busy):');
  for (const r of [c.results.static, c.results.keda, c.results.ours]) {
    out.info(
      `  ${r.policy}: ${r.pools
        .filter((p) => p.podHours > 0)
        .map((p) => `${p.pool} ${p.podHours.toFixed(1)}/${p.busyHours.toFixed(1)}`)
        .join(', ')}`,
    );
  }
  out.info('');
  out.info(
    `static sized by search (${c.static.runs} runs) to meet ${pct(c.static.targetHitRate)} of deadlines: ${Object.entries(
      c.static.replicas,
    )
      .filter(([, n]) => n > 0)
      .map(([p, n]) => `${p}=${n}`)
      .join(', ')}`,
  );
  const t = c.targets;
  out.info(
    `ours vs static: GPU cost ${pct(t.gpuSavingVsStatic)} lower (target ≥ 30 %: ${t.cheaperThanStaticBy30 ? 'met' : 'MISSED'}); deadlines ${t.hitRateAtLeastStatic ? 'no fewer (met)' : 'fewer (MISSED)'}`,
  );
  out.info(
    `ours vs backlog-proportional: ${t.notWorseThanKeda ? 'no dearer and no fewer deadlines (met)' : 'dearer or fewer deadlines (MISSED)'}`,
  );
  return 0;
}

export async function scalerMeasure(
  jobId: string,
  flags: { json?: boolean },
  cfg: VldmConfig,
): Promise<number> {
  const { connectTemporal } = load<typeof import('../../client/jobs')>('../../client/jobs');
  const { measureJob } = load<typeof import('../../scaling/measure')>('../../scaling/measure');
  const client = await connectTemporal(cfg.temporalAddress, cfg.namespace);
  try {
    const m = await measureJob(client, jobId);
    const out = makeOut(Boolean(flags.json));
    if (flags.json) out.result(m);
    else {
      out.info(`job ${m.jobId}: ${m.workflows} workflow(s)`);
      for (const a of m.activities) {
        out.info(
          `  ${String(a.queue).padEnd(14)} ${a.activity.padEnd(18)} n=${String(a.count).padStart(4)} median ${a.medianSeconds.toFixed(3)} s (min ${a.minSeconds.toFixed(3)}, max ${a.maxSeconds.toFixed(3)})`,
        );
      }
      out.info(`secondsPerActivity for the pools file: ${JSON.stringify(m.secondsPerActivity)}`);
    }
    return 0;
  } finally {
    await client.connection.close();
  }
}
