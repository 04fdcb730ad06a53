/**
 * The scaler's Prometheus metrics and health endpoints (src/scaling/loop.ts recordRound,
 * src/scaling/observability.ts), with the ScaleTarget kept in memory as in scaling-loop.test.ts and
 * the endpoints read over real HTTP on loopback: desired and current replicas per pool, price,
 * backlog, scale changes and per-job deadline slack after a round; /readyz only while the loop runs.
 */
import { describe, expect, it } from 'vitest';
import { ScalerLoop, deadlineSlackSeconds } from '../../src/scaling/loop';
import { serveScalerObservability } from '../../src/scaling/observability';
import { scalerRegistry } from '../../src/observability/metrics';
import { parseExposition, probe, scrape, sumOf } from '../support/prometheus';
import { MemoryTarget, config, quietLoop } from '../support/scaling-target';

const now = Date.now() / 1000;

describe('scaler metrics', () => {
  it('exports each round: replicas per pool, price, backlog, changes and deadline slack', async () => {
    const target = new MemoryTarget();
    const loop = new ScalerLoop({
      config,
      target,
      observe: async () => ({
        queues: {
          upscale: { backlog: 4, backlogAgeSeconds: 5, running: 0 },
          media: { backlog: 0, backlogAgeSeconds: 0, running: 0 },
        },
        jobs: [{ jobId: 'due-soon', startedAt: now - 60, deadline: now + 600, remaining: { upscale: 4 } }],
      }),
      log: () => undefined,
    });
    const r = await loop.step();
    const up = r.decision!.pools.find((p) => p.pool === 'up')!;
    const s = parseExposition(await scalerRegistry.metrics());
    expect(sumOf(s, 'vldm_scaler_desired_replicas', { pool: 'up' })).toBe(up.replicas);
    expect(sumOf(s, 'vldm_scaler_current_replicas', { pool: 'up' })).toBe(0);
    expect(sumOf(s, 'vldm_scaler_price_per_hour')).toBe(r.decision!.pricePerHour);
    expect(sumOf(s, 'vldm_scaler_max_price_per_hour')).toBe(10);
    expect(sumOf(s, 'vldm_scaler_queue_backlog', { queue: 'upscale' })).toBe(4);
    expect(
      sumOf(s, 'vldm_scaler_scale_changes_total', { pool: 'up', direction: 'up' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sumOf(s, 'vldm_scaler_rounds_total', { result: 'decided' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(s, 'vldm_scaler_leader')).toBe(1);
    // No ready pod yet: 4 upscale activities × 30 s one after the other, before the deadline in 600 s.
    const slack = sumOf(s, 'vldm_scaler_deadline_slack_seconds', { job_id: 'due-soon' });
    expect(slack).toBeGreaterThan(600 - 120 - 5);
    expect(slack).toBeLessThanOrEqual(600 - 120);
  });

  it('deadline slack counts remaining work at the ready capacity; none without a deadline', () => {
    const job = { jobId: 'j', startedAt: 0, deadline: 1000, remaining: { upscale: 10, media: 2 } };
    const ready = (up: number) => ({
      up: { replicas: up, ready: up, pending: 0, unschedulable: 0, oldestUnschedulableSeconds: 0 },
    });
    expect(deadlineSlackSeconds(config, job, ready(0), 0)).toBe(1000 - 10 * 30 - 2 * 5);
    expect(deadlineSlackSeconds(config, job, ready(5), 0)).toBe(1000 - (10 * 30) / 5 - 2 * 5);
    expect(deadlineSlackSeconds(config, { jobId: 'k', startedAt: 0 }, ready(1), 0)).toBeUndefined();
  });
});

describe('scaler /metrics, /healthz and /readyz', () => {
  it('serves them on VLDM_METRICS_PORT; ready only while the loop runs, whatever Temporal does', async () => {
    const target = new MemoryTarget();
    // Temporal down the whole time: rounds are skipped, the probes stay green.
    const loop = quietLoop(target, async () => Promise.reject(new Error('Temporal unreachable')));
    const server = await serveScalerObservability(loop, 0.05, () => undefined, {
      VLDM_METRICS_PORT: '0',
      VLDM_METRICS_HOST: '127.0.0.1',
    });
    expect(server).toBeDefined();
    const url = `http://127.0.0.1:${server!.port}`;
    try {
      expect(await probe(url, '/readyz', 5_000)).toBe(503);
      expect(await probe(url, '/healthz', 5_000)).toBe(200);
      const abort = new AbortController();
      const running = loop.run(0.05, abort.signal);
      while (loop.lastRoundAt === undefined) await new Promise((r) => setTimeout(r, 20));
      expect(await probe(url, '/readyz', 5_000)).toBe(200);
      expect(await probe(url, '/healthz', 5_000)).toBe(200);
      const s = await scrape(url);
      expect(sumOf(s, 'vldm_scaler_rounds_total', { result: 'skipped' })).toBeGreaterThanOrEqual(1);
      expect(s.some((x) => x.name === 'process_cpu_seconds_total')).toBe(true);
      // The scaler shows no worker metrics (and a worker no scaler ones: observability.test.ts).
      expect(s.some((x) => x.name.startsWith('vldm_worker_'))).toBe(false);
      abort.abort();
      await running;
      expect(await probe(url, '/readyz', 5_000)).toBe(503);
      expect(await probe(url, '/nothing', 5_000)).toBe(404);
    } finally {
      await server!.close();
    }
  });

  it('serves nothing unless VLDM_METRICS_PORT is set, and refuses a bad one', async () => {
    const loop = new ScalerLoop({
      config,
      target: new MemoryTarget(),
      observe: async () => ({ queues: {}, jobs: [] }),
    });
    expect(await serveScalerObservability(loop, 15, () => undefined, {})).toBeUndefined();
    await expect(
      serveScalerObservability(loop, 15, () => undefined, { VLDM_METRICS_PORT: 'ninety' }),
    ).rejects.toThrow(/VLDM_METRICS_PORT must be a TCP port/);
  });
});
