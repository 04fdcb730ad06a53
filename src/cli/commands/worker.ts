/** `vldm worker --queues <list|all>`: serve task queues until SIGTERM/SIGINT (graceful shutdown). */
import path from 'node:path';
import { QUEUE_ROLES, type QueueRole } from '../../common/names';
import { UserError } from '../../common/errors';
import type { VldmConfig } from '../../config/config';
import { createStore, startRetentionSweeper, storeConfigFromUrl } from '../../storage';
import { connectEventBus } from '../../events';
import { startWorkers } from '../../worker/workers';
import { connectTemporal } from '../../client/jobs';
import { logLine } from '../../observability/log';

export function parseQueues(v: string | undefined): QueueRole[] {
  if (!v || v === 'all') return [...QUEUE_ROLES];
  const qs = v
    .split(',')
    .map((q) => q.trim())
    .filter(Boolean);
  const bad = qs.filter((q) => !(QUEUE_ROLES as string[]).includes(q));
  if (bad.length || qs.length === 0)
    throw new UserError(
      `--queues must be "all" or a comma list of ${QUEUE_ROLES.join(', ')}; unknown: ${bad.join(', ') || '(empty)'}`,
    );
  return [...new Set(qs)] as QueueRole[];
}

export async function worker(
  opts: { queues?: string; graceSeconds?: string },
  cfg: VldmConfig,
): Promise<number> {
  const queues = parseQueues(opts.queues);
  const grace = opts.graceSeconds === undefined ? 30 : Number(opts.graceSeconds);
  if (!Number.isFinite(grace) || grace < 0)
    throw new UserError(`--grace-seconds must be a number ≥ 0, got "${opts.graceSeconds}"`);
  // Fail fast and clearly when Temporal is not there.
  await (await connectTemporal(cfg.temporalAddress, cfg.namespace)).connection.close();
  const store = createStore(storeConfigFromUrl(cfg.store));
  const events = await connectEventBus(cfg.natsUrl === 'off' ? undefined : cfg.natsUrl, {
    name: 'vldm-worker',
  });
  // `<ISO time> <line>`, or a JSON line with --log-format json (src/observability/log.ts).
  const log = (l: string) => logLine(l, { queues });
  const running = await startWorkers({
    temporalAddress: cfg.temporalAddress,
    namespace: cfg.namespace,
    queues,
    store,
    events,
    warmPack: queues.some((q) => q !== 'orchestration' && q !== 'media') ? cfg.pack : undefined,
    scratchDir: path.join(cfg.stateDir, 'scratch'),
    intraOpThreads: cfg.intraOpThreads,
    noiseThreads: cfg.noiseThreads,
    modelThreads: cfg.modelThreads,
    executionProviders: cfg.executionProviders,
    shutdownGraceMs: grace * 1000,
    log,
  });
  log(`vldm worker ready: queues ${queues.join(', ')}; store ${store.description}`);
  // Media workers apply the retention rule (the folder store has no lifecycle rules of its own).
  const sweeper =
    queues.includes('media') && cfg.retention !== 'off'
      ? startRetentionSweeper(store, cfg.retention, log)
      : undefined;
  const stop = (sig: string) => {
    log(`${sig}: stopping (grace ${grace}s)`);
    void running.shutdown();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await running.done;
  await sweeper?.stop();
  await events.close();
  await store.close?.();
  log('vldm worker stopped');
  return 0;
}
