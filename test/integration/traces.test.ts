/**
 * Traces through a real OpenTelemetry Collector (test/support/otel-collector.ts): two `vldm worker`
 * processes and `vldm submit`, all with OTEL_EXPORTER_OTLP_ENDPOINT set, run a small contract-pack
 * job. The collector's file exporter gets one trace for the job: the client's start span is its root,
 * the job workflow runs under it, every activity attempt runs under the workflow that scheduled it
 * (segment children under the job's start-child spans), spans come from both worker processes, and
 * the activities hold the model-call and store spans with vldm's attributes.
 */
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJob } from '../../src/cli/edge';
import { waitForJob } from '../../src/client/jobs';
import { runCli, startCli } from '../support/cli';
import { startCollector, type CollectedSpan, type Collector } from '../support/otel-collector';
import { CONTRACT_PACK, s3Env, startDeployment, type TestDeployment } from '../support/pipeline';
import { testStateDir } from '../support/servers';
import { until } from '../support/wait';

const BUCKET = 'vldm-traces';
let d: TestDeployment;
let collector: Collector;
const workers: Array<{ child: ChildProcess; log: () => string }> = [];

beforeAll(async () => {
  collector = await startCollector();
  d = await startDeployment(BUCKET, { workers: false });
}, 120_000);
afterAll(async () => {
  for (const w of workers) {
    if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
    const exited = once(w.child, 'exit');
    w.child.kill('SIGTERM');
    await exited;
  }
  await d?.close();
  await collector?.stop();
});

function common(): string[] {
  const t = d.servers.temporal!;
  return [
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
  ];
}

function otelEnv(): NodeJS.ProcessEnv {
  // A short batch delay, so spans reach the collector while the test waits (default 5 s).
  return {
    ...s3Env(d.servers),
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
}

describe('traces of a job through a real OpenTelemetry Collector', () => {
  it('one trace per job: client → workflow → activity → model and store spans, from two worker processes', async () => {
    for (const queues of ['orchestration,media', 'keyframe,interpolation,decode,upscale'])
      workers.push(
        await startCli(
          ['worker', '--queues', queues, ...common(), '--grace-seconds', '5'],
          otelEnv(),
          /vldm worker ready/,
        ),
      );
    const flags = { seconds: '2', scene: 'day', traffic: 'clear', seed: '5', name: `traces-${process.pid}` };
    const { spec, plan } = await compileJob(flags, CONTRACT_PACK);
    const sub = await runCli(
      [
        'submit',
        '--seconds',
        '2',
        '--scene',
        'day',
        '--traffic',
        'clear',
        '--seed',
        '5',
        '--name',
        flags.name,
        ...common(),
        '--json',
      ],
      otelEnv(),
    );
    expect(sub.code, sub.stderr).toBe(0);
    const { jobId } = JSON.parse(sub.stdout) as { jobId: string };
    expect(jobId).toBe(spec.jobId);
    const result = await waitForJob(d.client, jobId);
    expect(result.activities.total).toBe(plan.counts.total);

    const runActivities = (spans: CollectedSpan[]) =>
      spans.filter((s) => s.name.startsWith('RunActivity:') && s.attributes['vldm.job_id'] === jobId);
    // Activity spans arrive within the batch delay; the job workflow's own span when it has ended.
    const planned = plan.counts.total;
    const names = () => {
      const n: Record<string, number> = {};
      for (const x of collector.spans())
        n[`${x.name} job=${String(x.attributes['vldm.job_id'])}`] =
          (n[`${x.name} job=${String(x.attributes['vldm.job_id'])}`] ?? 0) + 1;
      return JSON.stringify(n);
    };
    await until(
      'every activity span and the job workflow span at the collector',
      () => {
        const spans = collector.spans();
        return (
          runActivities(spans).length >= planned &&
          spans.some(
            (s) => s.name === 'RunWorkflow:videoJobWorkflow' && s.attributes['temporalWorkflowId'] === jobId,
          )
        );
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; spans: ${names()}`, { cause: err });
    });
    const all = collector.spans();
    const byId = new Map(all.map((s) => [s.spanId, s]));
    const root = all.find(
      (s) => s.name === 'StartWorkflow:videoJobWorkflow' && s.attributes['temporalWorkflowId'] === jobId,
    );
    expect(root, 'the client start span').toBeDefined();
    expect(root!.parentSpanId).toBeUndefined();
    expect(root!.resource['service.name']).toBe('vldm-submit');
    const trace = all.filter((s) => s.traceId === root!.traceId);

    // The job workflow runs under the client's start span.
    const jobRun = trace.find((s) => s.name === 'RunWorkflow:videoJobWorkflow');
    expect(jobRun?.parentSpanId).toBe(root!.spanId);
    expect(jobRun!.attributes).toMatchObject({ temporalWorkflowId: jobId, 'vldm.job_id': jobId });

    // Every activity attempt of the job is in this one trace, under the StartActivity span of the
    // workflow that scheduled it, and that workflow's run span leads up to the root.
    const acts = runActivities(all);
    expect(acts.every((a) => a.traceId === root!.traceId)).toBe(true);
    const stageCounts: Record<string, number> = {};
    for (const a of acts) {
      const start = byId.get(a.parentSpanId ?? '');
      expect(start?.name, a.name).toBe(`StartActivity:${a.name.slice('RunActivity:'.length)}`);
      // Up the chain: RunWorkflow (job or segment), then StartChildWorkflow / StartWorkflow, to the root.
      const chain: string[] = [];
      for (let s: CollectedSpan | undefined = start; s; s = byId.get(s.parentSpanId ?? ''))
        chain.push(s.name);
      expect(chain[chain.length - 1]).toBe('StartWorkflow:videoJobWorkflow');
      expect(a.attributes['vldm.outcome']).toBe('completed');
      expect(a.attributes['vldm.attempt']).toBe(1);
      expect(a.resource['service.name']).toBe('vldm-worker');
      const stage = String(a.attributes['vldm.stage']);
      stageCounts[stage] = (stageCounts[stage] ?? 0) + 1;
    }
    for (const stage of [
      'prepare',
      'keyframe',
      'interpolation',
      'decode',
      'upscale',
      'encode',
      'stitch',
    ] as const)
      expect(stageCounts[stage] ?? 0, stage).toBe(plan.counts[stage]);

    // Segment children run under the job workflow's StartChildWorkflow spans.
    const segmentRuns = trace.filter((s) => s.name === 'RunWorkflow:segmentRenderWorkflow');
    expect(segmentRuns.length).toBe(plan.segments.length);
    for (const s of segmentRuns) {
      expect(s.attributes['vldm.job_id']).toBe(jobId);
      expect(String(s.attributes['temporalWorkflowId'])).toMatch(new RegExp(`^${jobId}/segment-\\d+$`));
      const parent = byId.get(s.parentSpanId ?? '');
      expect(parent?.name).toBe('StartChildWorkflow:segmentRenderWorkflow');
      expect(byId.get(parent!.parentSpanId ?? '')?.name).toBe('RunWorkflow:videoJobWorkflow');
    }

    // More than one worker process: activity spans from both, each naming the queues it serves.
    const pids = new Set(acts.map((a) => a.resource['process.pid']));
    expect(pids.size).toBe(2);
    expect(new Set(acts.map((a) => a.resource['vldm.queues']))).toEqual(
      new Set(['orchestration,media', 'keyframe,interpolation,decode,upscale']),
    );
    expect(jobRun!.resource['vldm.queues']).toBe('orchestration,media');

    // Model calls and store operations inside activities: children of the activity spans.
    const models = trace.filter((s) => s.name === 'model.run');
    for (const role of ['keyframe', 'interpolation', 'decoder', 'upsampler']) {
      const calls = models.filter((m) => m.attributes['vldm.model.role'] === role);
      expect(calls.length, role).toBeGreaterThan(0);
      for (const c of calls) expect(byId.get(c.parentSpanId ?? '')?.name).toMatch(/^RunActivity:/);
    }
    const puts = trace.filter((s) => s.name === 'store.put' || s.name === 'store.putFile');
    expect(puts.length).toBeGreaterThan(0);
    for (const p of puts) {
      expect(byId.get(p.parentSpanId ?? '')?.name).toMatch(/^RunActivity:/);
      expect(String(p.attributes['vldm.store.key'])).toContain(jobId);
      expect(Number(p.attributes['vldm.store.bytes'])).toBeGreaterThan(0);
    }
    // Children lie inside their parents in time. OpenTelemetry JS anchors span times on the
    // process's time origin plus a monotonic clock, which can put a child a millisecond or so outside
    // a parent that began in another callback: 20 ms of slack, far below any activity's length.
    const slack = 20_000_000n;
    for (const c of [...models, ...puts]) {
      const p = byId.get(c.parentSpanId!)!;
      expect(c.startNs + slack >= p.startNs && c.endNs <= p.endNs + slack, `${c.name} in ${p.name}`).toBe(
        true,
      );
    }
  }, 600_000);
});
