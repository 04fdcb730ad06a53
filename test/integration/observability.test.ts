/**
 * Metrics and health endpoints of real `vldm worker` processes (src/observability): a real job on
 * the contract-test pack through two worker processes, each serving `/metrics`, scraped during and
 * after the job: activity counts per stage equal the job's plan, every model role's call histogram
 * is filled, artifact bytes and queue waits are counted, the Temporal SDK's own metrics are merged
 * in; their `--log-format json` logs are JSON lines, one per activity attempt with the job's fields.
 * Then liveness against the real process: SIGSTOP fails `/healthz` for a prober with a short
 * timeout, SIGCONT makes it pass again. And readiness through a Temporal outage: a worker on its own
 * Temporal server stays ready and live while that server is stopped (docs/observability.md says why).
 */
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJob } from '../../src/cli/edge';
import { startJob, waitForJob } from '../../src/client/jobs';
import { startCli } from '../support/cli';
import { CONTRACT_PACK, s3Env, startDeployment, type TestDeployment } from '../support/pipeline';
import { probe, scrape, sumOf, type Sample } from '../support/prometheus';
import { testStateDir } from '../support/servers';
import { freePort, until } from '../support/wait';
import { devDown, devUp } from '../../src/dev/servers';

const BUCKET = 'vldm-observability';
let d: TestDeployment;
const workers: Array<{ child: ChildProcess; log: () => string; url: string }> = [];

/** Start `vldm worker --queues <queues>` with its metrics on a free port; returns its base URL. */
async function startWorker(
  queues: string,
  extraEnv: NodeJS.ProcessEnv = {},
  extraArgs: string[] = [],
  t = d.servers.temporal!,
) {
  const w = await startCli(
    [
      ...extraArgs,
      'worker',
      '--queues',
      queues,
      '--temporal-address',
      t.address,
      '--namespace',
      t.namespace,
      '--nats',
      d.servers.nats!.url,
      '--store',
      d.storeUrl,
      '--pack',
      CONTRACT_PACK,
      '--state-dir',
      testStateDir(),
      '--grace-seconds',
      '5',
    ],
    { ...s3Env(d.servers), VLDM_METRICS_PORT: '0', VLDM_METRICS_HOST: '127.0.0.1', ...extraEnv },
    /vldm worker ready/,
  );
  const m = /metrics and health on (http:\/\/127\.0\.0\.1:\d+)/.exec(w.log());
  if (!m) throw new Error(`no metrics address in the worker's log:\n${w.log()}`);
  const worker = { ...w, url: m[1] };
  workers.push(worker);
  return worker;
}

async function stop(w: { child: ChildProcess }) {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGCONT');
  const exited = once(w.child, 'exit');
  w.child.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  d = await startDeployment(BUCKET, { workers: false });
});
afterAll(async () => {
  for (const w of workers) await stop(w);
  await d?.close();
});

const sumAll = (scrapes: Sample[][], name: string, match: Record<string, string> = {}) =>
  scrapes.reduce((a, s) => a + sumOf(s, name, match), 0);

describe('worker metrics during and after a real job', () => {
  it('count every planned activity per stage and fill every model role’s histogram', async () => {
    // JSON logs at INFO: one line per activity attempt, with the job's fields (checked at the end).
    const json: [NodeJS.ProcessEnv, string[]] = [{ VLDM_LOG_LEVEL: 'INFO' }, ['--log-format', 'json']];
    const orchestration = await startWorker('orchestration,media', ...json);
    const models = await startWorker('keyframe,interpolation,decode,upscale', ...json);
    const both = [orchestration, models];
    // Ready once models are loaded and the workers poll.
    for (const w of both) expect(await probe(w.url, '/readyz', 5_000)).toBe(200);

    const flags = { seconds: '3', scene: 'day', traffic: 'clear', seed: '3', name: `obs-${process.pid}` };
    const { spec, plan } = await compileJob(flags, CONTRACT_PACK);
    const stages = ['prepare', 'keyframe', 'interpolation', 'decode', 'upscale', 'encode', 'stitch'] as const;
    await startJob(d.client, spec);
    const job = waitForJob(d.client, spec.jobId);
    let finished = false;
    void job.then(
      () => (finished = true),
      () => (finished = true),
    );
    // Scrape while the job runs: some scrape sees part of the work done and nothing wrong.
    const during: number[] = [];
    while (!finished) {
      const scrapes = await Promise.all(both.map((w) => scrape(w.url)));
      during.push(sumAll(scrapes, 'vldm_activities_total', { outcome: 'completed' }));
      await new Promise((r) => setTimeout(r, 250));
    }
    const result = await job;
    expect(result.activities.total).toBe(plan.counts.total);
    expect(during.some((n) => n > 0 && n < plan.counts.total)).toBe(true);

    const after = await Promise.all(both.map((w) => scrape(w.url)));
    for (const stage of stages) {
      expect(sumAll(after, 'vldm_activities_total', { stage, outcome: 'completed' }), stage).toBe(
        plan.counts[stage],
      );
      expect(sumAll(after, 'vldm_activity_seconds_count', { stage, outcome: 'completed' }), stage).toBe(
        plan.counts[stage],
      );
    }
    expect(sumAll(after, 'vldm_activities_total', { outcome: 'reused' })).toBe(0);
    // Each GPU stage's speed probe (one per stage and job) is counted apart from the plan's stages.
    expect(sumAll(after, 'vldm_activities_total', { stage: 'measure', outcome: 'completed' })).toBe(4);
    for (const role of ['keyframe', 'interpolation', 'decoder', 'upsampler']) {
      expect(sumAll(after, 'vldm_model_call_seconds_count', { role }), role).toBeGreaterThan(0);
      expect(sumAll(after, 'vldm_model_call_seconds_sum', { role }), role).toBeGreaterThan(0);
    }
    // Every activity attempt's queue wait is observed, on the queue it ran from.
    const attempts = sumAll(after, 'vldm_activities_total');
    expect(sumAll(after, 'vldm_activity_queue_wait_seconds_count')).toBe(attempts);
    expect(
      sumAll(after, 'vldm_activity_queue_wait_seconds_count', { queue: 'vldm-upscale' }),
    ).toBeGreaterThanOrEqual(plan.counts.upscale);
    expect(sumAll(after, 'vldm_artifact_bytes_total', { direction: 'written' })).toBeGreaterThan(0);
    expect(sumAll(after, 'vldm_artifact_bytes_total', { direction: 'read' })).toBeGreaterThan(0);
    // Slots: each queue's concurrency is exported, and nothing runs once the job is done.
    expect(sumOf(after[1], 'vldm_worker_slots', { queue: 'vldm-upscale' })).toBeGreaterThan(0);
    expect(sumOf(after[0], 'vldm_worker_models_loaded')).toBe(1);
    // A worker shows no scaler metrics (no price of 0 beside the scaler's).
    expect(after[0].some((x) => x.name.startsWith('vldm_scaler_'))).toBe(false);
    // The Temporal SDK's own metrics come on the same endpoint.
    expect(after[1].some((s) => s.name.startsWith('temporal_'))).toBe(true);

    // Health and readiness after the job.
    for (const w of both) {
      expect(await probe(w.url, '/healthz', 5_000)).toBe(200);
      expect(await probe(w.url, '/readyz', 5_000)).toBe(200);
    }

    // --log-format json: every line the workers wrote is a JSON object; each activity attempt has
    // one line naming its job, workflow, stage, activity, attempt (and segment, for segment work).
    // The SDK hands log entries over in batches: wait for the job's last activity's line.
    const allLines = () =>
      both.flatMap((w) =>
        w
          .log()
          .split('\n')
          .filter((l) => l.trim() !== ''),
      );
    await until(
      "the stitch activity's log line",
      () => allLines().some((l) => l.includes('"stage":"stitch"') && l.includes('"activity completed"')),
      30_000,
    );
    const lines = allLines();
    const records = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON log line: ${l}`);
      }
    });
    for (const r of records)
      expect(typeof r.msg === 'string' && typeof r.time === 'string', JSON.stringify(r)).toBe(true);
    expect(records.some((r) => /vldm worker ready/.test(r.msg as string))).toBe(true);
    const done = records.filter((r) => r.msg === 'activity completed' && r.jobId === spec.jobId);
    for (const stage of stages) {
      const mine = done.filter((r) => r.stage === stage);
      expect(mine.length, stage).toBe(plan.counts[stage]);
      for (const r of mine) {
        expect(r.workflowId, stage).toMatch(new RegExp(`^${spec.jobId}(/segment-\\d{3})?$`));
        expect(typeof r.activity, stage).toBe('string');
        expect(r.attempt, stage).toBeGreaterThanOrEqual(1);
        if (stage !== 'prepare' && stage !== 'stitch') expect(typeof r.segment, stage).toBe('number');
      }
    }
    expect(new Set(done.filter((r) => r.stage === 'keyframe').map((r) => r.segment))).toEqual(
      new Set(plan.segments.map((s) => s.index)),
    );
  });
});

describe('liveness against a stopped process', () => {
  it('fails /healthz while the worker is SIGSTOPped and passes again after SIGCONT', async () => {
    // The bounds a chart would set (VLDM_HEALTH_*); the prober's timeout is the probe's timeoutSeconds.
    const w = await startWorker('media', { VLDM_HEALTH_MAX_LAG_SECONDS: '1' });
    const timeoutMs = 1_000;
    expect(await probe(w.url, '/healthz', timeoutMs)).toBe(200);
    w.child.kill('SIGSTOP');
    try {
      // A stopped process answers nothing: the probe fails with its own timeout.
      expect(await probe(w.url, '/healthz', timeoutMs)).toBe(0);
      expect(await probe(w.url, '/readyz', timeoutMs)).toBe(0);
    } finally {
      w.child.kill('SIGCONT');
    }
    // Right after resuming, the stop shows as event-loop lag, so liveness still fails for a while.
    const firstAfter = await probe(w.url, '/healthz', 5_000);
    expect(firstAfter).toBe(503);
    const deadline = Date.now() + 60_000;
    let status = firstAfter;
    while (status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      status = await probe(w.url, '/healthz', timeoutMs);
    }
    expect(status).toBe(200);
    await stop(w);
    expect(w.child.exitCode).toBe(0);
  });
});

describe('readiness through a Temporal outage', () => {
  it('a worker stays ready and live while its Temporal server is down', async () => {
    // Its own Temporal server, so stopping it disturbs no other test.
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'vldm-obs-temporal-'));
    const ports = { temporal: await freePort(), temporalUi: await freePort() };
    const servers = await devUp({ stateDir, kinds: ['temporal'], ports });
    try {
      const w = await startWorker('media', {}, [], servers.temporal!);
      expect(await probe(w.url, '/readyz', 5_000)).toBe(200);
      await devDown({ stateDir });
      // The frontend refuses connections now; the worker's polls fail and are retried. For a
      // while (well inside VLDM_HEALTH_POLL_SECONDS) both probes stay green and the process runs.
      const seen: number[] = [];
      for (let i = 0; i < 20; i++) {
        seen.push(await probe(w.url, '/readyz', 5_000), await probe(w.url, '/healthz', 5_000));
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(new Set(seen)).toEqual(new Set([200]));
      expect(w.child.exitCode).toBeNull();
      await stop(w);
    } finally {
      await devDown({ stateDir });
    }
  });
});
