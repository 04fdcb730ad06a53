/**
 * The scaler's control loop: every interval, if this replica leads, observe (Temporal's queues and
 * jobs, each pool's Deployment and pods), decide (decide.ts), apply each changed replica count through
 * the scale subresource, and record every decision with its reason: a log line, a Kubernetes Event on
 * each Deployment it changed, and one NATS message per round. Observation that fails skips the round:
 * the scaler never acts on half a picture. Recording that fails is logged and forgotten. Each round
 * also sets the scaler's Prometheus metrics (src/observability/metrics.ts; recordRound below).
 */
import type { NatsConnection } from 'nats';
import { SCALER_DECISIONS_SUBJECT, type QueueRole } from '../common/names';
import { NatsConnectError, openNats, redactNatsUrl } from '../events';
import { decide, type Decision, type PoolObservation, type ScalerMemory } from './decide';
import type { ScaleTarget } from './kube';
import { poolObservation } from './kube';
import type { LeaderElector } from './leader';
import type { PoolsConfig } from './pools';
import type { TemporalObservation } from './temporal';
import {
  scalerCurrentReplicas,
  scalerDeadlineSlackSeconds,
  scalerDesiredReplicas,
  scalerLeader,
  scalerMaxPricePerHour,
  scalerPricePerHour,
  scalerQueueBacklog,
  scalerReadyReplicas,
  scalerRoundsTotal,
  scalerRunningJobs,
  scalerScaleChangesTotal,
} from '../observability/metrics';

/** Where decisions are published besides the log and Events. */
export interface DecisionSink {
  publish(decision: Decision & { applied: AppliedChange[] }): void;
  close(): Promise<void>;
}

export interface AppliedChange {
  pool: string;
  deployment: string;
  from: number;
  to: number;
  /** Absent when the API server took it; the error otherwise. */
  error?: string;
}

export interface StepResult {
  /** False when another replica leads (nothing was read or changed). */
  leader: boolean;
  decision?: Decision;
  applied: AppliedChange[];
  /** Why the round was skipped, when it was. */
  skipped?: string;
}

export interface ScalerLoopOptions {
  config: PoolsConfig;
  target: ScaleTarget;
  /** Reads Temporal (observeTemporal bound to a client, or a stand-in in tests). */
  observe: (roles: QueueRole[]) => Promise<TemporalObservation>;
  elector?: LeaderElector;
  sink?: DecisionSink;
  log?: (line: string) => void;
  clock?: () => Date;
}

export class ScalerLoop {
  #memory?: ScalerMemory;
  readonly roles: QueueRole[];
  #log: (line: string) => void;
  #clock: () => Date;
  /** When the last round ended (whatever its result), epoch ms; for the scaler's /healthz. */
  lastRoundAt?: number;
  /** True while run() loops; for the scaler's /readyz. */
  running = false;

  constructor(private readonly opts: ScalerLoopOptions) {
    this.roles = [...new Set(opts.config.pools.flatMap((p) => p.queues))];
    this.#log = opts.log ?? ((line) => process.stdout.write(`${line}\n`));
    this.#clock = opts.clock ?? (() => new Date());
  }

  /** One round of observe, decide, apply, record. */
  async step(): Promise<StepResult> {
    try {
      return await this.#step();
    } finally {
      this.lastRoundAt = Date.now();
    }
  }

  async #step(): Promise<StepResult> {
    const { config, target, elector } = this.opts;
    scalerMaxPricePerHour.set(config.maxPricePerHour);
    if (elector && !elector.isLeader()) {
      // A replica that was not leading has no memory worth keeping when it takes over.
      this.#memory = undefined;
      scalerLeader.set(0);
      scalerRoundsTotal.labels({ result: 'follower' }).inc();
      // A standby exports no decision: the leader's are the ones to read (no stale ones from its own lead).
      for (const g of [
        scalerDesiredReplicas,
        scalerCurrentReplicas,
        scalerReadyReplicas,
        scalerQueueBacklog,
        scalerDeadlineSlackSeconds,
      ])
        g.reset();
      return { leader: false, applied: [] };
    }
    scalerLeader.set(1);
    let temporal: TemporalObservation;
    const pools: Record<string, PoolObservation> = {};
    try {
      temporal = await this.opts.observe(this.roles);
      const now = this.#clock();
      await Promise.all(
        config.pools.map(async (p) => {
          const scale = await target.getScale(p.deployment);
          const pods = scale.selector ? await target.listPods(scale.selector) : [];
          pools[p.name] = poolObservation(scale, pods, now);
        }),
      );
    } catch (err) {
      const skipped = `observation failed, nothing changed this round: ${(err as Error).message}`;
      this.#log(`scaler: ${skipped}`);
      scalerRoundsTotal.labels({ result: 'skipped' }).inc();
      return { leader: true, applied: [], skipped };
    }
    const now = this.#clock();
    const decision = decide({
      now: now.getTime() / 1000,
      config,
      queues: temporal.queues,
      jobs: temporal.jobs,
      pools,
      ...(this.#memory ? { memory: this.#memory } : {}),
    });
    this.#memory = decision.memory;

    const applied: AppliedChange[] = [];
    for (const d of decision.pools) {
      if (d.replicas === d.current) continue;
      // Leadership is checked again right before each write: a round can outlast the renew deadline.
      if (elector && !elector.isLeader()) {
        this.#log('scaler: lost the lease mid-round; the rest of this round is not applied');
        break;
      }
      const change: AppliedChange = {
        pool: d.pool,
        deployment: d.deployment,
        from: d.current,
        to: d.replicas,
      };
      try {
        await target.setScale(d.deployment, d.replicas);
      } catch (err) {
        change.error = (err as Error).message;
      }
      applied.push(change);
      this.#log(
        `scaler: ${change.error ? `FAILED to scale ${d.deployment} ${d.current} → ${d.replicas}: ${change.error}; ` : ''}${d.reason}`,
      );
      try {
        await target.recordEvent(d.deployment, {
          reason: change.error ? 'ScaleFailed' : d.replicas > d.current ? 'ScaledUp' : 'ScaledDown',
          message: change.error ? `${change.error}; wanted: ${d.reason}` : d.reason,
          type: change.error ? 'Warning' : 'Normal',
        });
      } catch (err) {
        this.#log(`scaler: could not record an Event on ${d.deployment}: ${(err as Error).message}`);
      }
    }
    this.opts.sink?.publish({ ...decision, applied });
    recordRound(config, decision, pools, temporal, applied, now.getTime() / 1000);
    return { leader: true, decision, applied };
  }

  /**
   * Run until `signal` aborts: the elector renews every `leaseDurationSeconds / 3`, the loop decides
   * every `intervalSeconds`. On abort the Lease is released so the other replica takes over at once.
   */
  async run(intervalSeconds: number, signal: AbortSignal): Promise<void> {
    const { elector } = this.opts;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const t = setTimeout(resolve, ms);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    let wasLeader: boolean | undefined;
    const tick = async () => {
      if (!elector) return;
      try {
        await elector.tick();
      } catch (err) {
        this.#log(`scaler: lease ${elector.name}: ${(err as Error).message}`);
      }
      const leads = elector.isLeader();
      if (leads !== wasLeader) {
        this.#log(
          leads
            ? `scaler: ${elector.identity} leads (lease ${elector.name})`
            : `scaler: ${elector.identity} does not lead; ${elector.holder || 'nobody'} does`,
        );
      }
      wasLeader = leads;
    };
    this.running = true;
    await tick();
    const renewing = (async () => {
      while (elector && !signal.aborted) {
        await sleep((elector.leaseDurationSeconds * 1000) / 3);
        if (!signal.aborted) await tick();
      }
    })();
    while (!signal.aborted) {
      await this.step();
      await sleep(intervalSeconds * 1000);
    }
    await renewing;
    this.running = false;
    await elector
      ?.release()
      .catch((err: unknown) => this.#log(`scaler: could not release the lease: ${(err as Error).message}`));
    await this.opts.sink?.close();
  }
}

/**
 * A job's deadline slack: seconds to its deadline minus its remaining work, each queue's activities
 * × seconds per activity ÷ the activities the queue's ready pods run at once (at least one), summed
 * over queues as if they ran one after the other. An estimate that errs late: stages overlap.
 */
export function deadlineSlackSeconds(
  config: PoolsConfig,
  job: TemporalObservation['jobs'][number],
  pools: Record<string, PoolObservation>,
  now: number,
): number | undefined {
  if (job.deadline === undefined) return undefined;
  let work = 0;
  for (const [q, n] of Object.entries(job.remaining ?? {}) as Array<[QueueRole, number]>) {
    const parallel = config.pools
      .filter((p) => p.queues.includes(q))
      .reduce((a, p) => a + (pools[p.name]?.ready ?? 0) * p.activitiesPerPod * p.speedFactor, 0);
    work += (n * (config.secondsPerActivity[q] ?? 0)) / Math.max(1, parallel);
  }
  return job.deadline - now - work;
}

/** The round's metrics: desired, current and ready replicas per pool, price, backlog, slack, changes. */
function recordRound(
  config: PoolsConfig,
  decision: Decision,
  pools: Record<string, PoolObservation>,
  temporal: TemporalObservation,
  applied: AppliedChange[],
  now: number,
): void {
  scalerRoundsTotal.labels({ result: 'decided' }).inc();
  for (const d of decision.pools) {
    scalerDesiredReplicas.labels({ pool: d.pool }).set(d.replicas);
    scalerCurrentReplicas.labels({ pool: d.pool }).set(pools[d.pool]?.replicas ?? d.current);
    scalerReadyReplicas.labels({ pool: d.pool }).set(pools[d.pool]?.ready ?? 0);
  }
  for (const c of applied)
    scalerScaleChangesTotal
      .labels({ pool: c.pool, direction: c.error ? 'failed' : c.to > c.from ? 'up' : 'down' })
      .inc();
  scalerPricePerHour.set(decision.pricePerHour);
  for (const [q, o] of Object.entries(temporal.queues))
    if (o) scalerQueueBacklog.labels({ queue: q }).set(o.backlog);
  scalerRunningJobs.set(temporal.jobs.length);
  // Finished jobs must disappear from the gauge: it holds only this round's running jobs.
  scalerDeadlineSlackSeconds.reset();
  for (const job of temporal.jobs) {
    const slack = deadlineSlackSeconds(config, job, pools, now);
    if (slack !== undefined) scalerDeadlineSlackSeconds.labels({ job_id: job.jobId }).set(slack);
  }
}

/** Publishes each round's decision on NATS; drops them while NATS is unreachable (never blocks). */
export async function natsDecisionSink(
  url: string,
  log: (line: string) => void,
): Promise<DecisionSink | undefined> {
  let nc: NatsConnection;
  try {
    // The same credentials (VLDM_NATS_*) and reconnect behaviour as every vldm process.
    nc = await openNats(url, { name: 'vldm-scaler' });
  } catch (err) {
    // A badly configured credential is the user's to fix: fail at start, like every command.
    if (!(err instanceof NatsConnectError)) throw err;
    log(
      `scaler: NATS at ${redactNatsUrl(url)} ${err.authFailed ? 'refused the credentials' : 'unreachable'} (${err.message}); decisions go to the log and Events only`,
    );
    return undefined;
  }
  const encoder = new TextEncoder();
  return {
    publish(decision) {
      try {
        nc.publish(
          SCALER_DECISIONS_SUBJECT,
          encoder.encode(JSON.stringify({ ...decision, memory: undefined })),
        );
      } catch {
        // Disconnected: the decision is in the log and the Events.
      }
    },
    async close() {
      await nc.drain().catch(() => undefined);
    },
  };
}
