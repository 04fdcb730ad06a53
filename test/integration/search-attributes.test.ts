/**
 * Search attributes and static details of a job's children (workflows/child-metadata.ts,
 * src/worker/search-attributes.ts) on a real Temporal server: a job run in chapters is found, with
 * every chapter and segment child, through the visibility API by `VldmJob = '<id>'`; each child
 * carries its `VldmSegment` or `VldmChapter`, and describe() gives its static summary and details.
 * A namespace with the job's attributes but not the children's makes `vldm worker` refuse, naming the
 * command that fixes it, which then does; a namespace with none of them runs jobs without attributes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJob } from '../../src/cli/edge';
import { startJob, waitForJob } from '../../src/client/jobs';
import {
  JOB_SEARCH_ATTRIBUTES,
  QUEUE_ROLES,
  chapterWorkflowId,
  segmentWorkflowId,
} from '../../src/common/names';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/common/search-attributes';
import { findTool } from '../../src/dev/tools';
import { startWorkers } from '../../src/worker/workers';
import { runCli } from '../support/cli';
import { CONTRACT_PACK, startDeployment, type TestDeployment } from '../support/pipeline';
import { registerTestNamespace } from '../support/temporal-namespace';

const run = promisify(execFile);
let d: TestDeployment;

beforeAll(async () => {
  d = await startDeployment('vldm-search-attributes');
}, 120_000);
afterAll(async () => {
  await d?.close();
});

/** Visibility is eventually consistent: list until `count` workflows match. */
async function listUntil(client: Client, query: string, count: number): Promise<WorkflowExecutionInfo[]> {
  const until = Date.now() + 30_000;
  for (;;) {
    const found: WorkflowExecutionInfo[] = [];
    for await (const w of client.workflow.list({ query })) found.push(w);
    if (found.length >= count || Date.now() > until) return found;
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('search attributes and static details of segment and chapter children', () => {
  it('finds a job and each of its children by VldmJob, with their index and texts', async () => {
    const { spec, plan } = await compileJob(
      { seconds: '3', scene: 'day', traffic: 'clear', seed: '21', name: `attrs-${process.pid}` },
      CONTRACT_PACK,
    );
    const segments = plan.segments.length;
    expect(segments).toBe(2);
    await startJob(d.client, spec, { chapterSegments: 1 });
    await waitForJob(d.client, spec.jobId);

    const all = await listUntil(d.client, `VldmJob = '${spec.jobId}'`, 1 + 2 * segments);
    const ids = all.map((w) => w.workflowId).sort();
    const chapters = [0, 1].map((c) => chapterWorkflowId(spec.jobId, c));
    const children = plan.segments.map((s) => segmentWorkflowId(spec.jobId, s.index));
    expect(ids).toEqual([spec.jobId, ...chapters, ...children].sort());

    for (const [i, id] of children.entries()) {
      const info = all.find((w) => w.workflowId === id)!;
      expect(info.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.VldmSegment)).toBe(i);
      expect(info.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.VldmJob)).toBe(spec.jobId);
      expect(info.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.VldmChapter)).toBeUndefined();
      // One segment alone by its index.
      const one = await listUntil(d.client, `VldmJob = '${spec.jobId}' AND VldmSegment = ${i}`, 1);
      expect(one.map((w) => w.workflowId)).toEqual([id]);
      const desc = await d.client.workflow.getHandle(id).describe();
      const { frames } = plan.segments[i];
      expect(await desc.staticSummary()).toBe(
        `${spec.jobId} segment ${i} of ${segments}: frames ${frames.start}–${frames.end - 1}`,
      );
      const details = await desc.staticDetails();
      expect(details).toContain(`Segment ${i} of ${segments} of job ${spec.jobId}`);
      expect(details).toContain(`${plan.segments[i].upscale.length} upscale tiles`);
    }
    for (const [c, id] of chapters.entries()) {
      const info = all.find((w) => w.workflowId === id)!;
      expect(info.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.VldmChapter)).toBe(c);
      expect(info.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.VldmSegment)).toBeUndefined();
      const desc = await d.client.workflow.getHandle(id).describe();
      expect(await desc.staticSummary()).toBe(`${spec.jobId} chapter ${c} of 2: segments ${c}–${c}`);
      expect(await desc.staticDetails()).toContain(`Chapter ${c} of 2 of job ${spec.jobId}`);
    }
    const job = all.find((w) => w.workflowId === spec.jobId)!;
    expect(job.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.VldmSegment)).toBeUndefined();
  }, 600_000);

  it('a workflow worker refuses a namespace with the job attributes but not the children; the command it names fixes it', async () => {
    const t = d.servers.temporal!;
    const connection = await Connection.connect({ address: t.address });
    const namespace = `vldm-attrs-partial-${process.pid}-${Date.now()}`;
    try {
      await registerTestNamespace(connection, namespace, { ...JOB_SEARCH_ATTRIBUTES });
      const scratch = mkdtempSync(path.join(os.tmpdir(), 'vldm-attrs-'));
      const flags = ['--temporal-address', t.address, '--namespace', namespace, '--nats', 'off'];
      const refused = await runCli(
        ['worker', '--queues', 'orchestration', ...flags, '--store', scratch, '--pack', CONTRACT_PACK],
        {},
        120_000,
      );
      expect(refused.code, refused.stderr).toBe(2);
      const line = refused.stderr.trim();
      expect(line.split('\n')).toHaveLength(1);
      expect(line).toMatch(
        new RegExp(
          `^vldm: namespace "${namespace}" has vldm's job search attributes but not VldmSegment \\(Int\\), VldmChapter \\(Int\\)`,
        ),
      );
      const commands = line.match(/: (temporal operator search-attribute create .+)$/)![1].split('; ');
      expect(commands).toEqual(
        ['VldmSegment', 'VldmChapter'].map(
          (name) =>
            `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type Int`,
        ),
      );
      // The named commands, as printed, against this server.
      const temporal = findTool('temporal')!;
      for (const command of commands)
        await run(temporal, [...command.split(' ').slice(1), '--address', t.address]);
      const workers = await startWorkers({
        temporalAddress: t.address,
        namespace,
        queues: ['orchestration'],
        store: d.store,
        events: d.events,
        scratchDir: scratch,
      });
      await workers.shutdown();
    } finally {
      await connection.close();
    }
  }, 300_000);

  it('a namespace without vldm attributes runs jobs, and their children carry none', async () => {
    const t = d.servers.temporal!;
    const connection = await Connection.connect({ address: t.address });
    const namespace = `vldm-attrs-none-${process.pid}-${Date.now()}`;
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'vldm-attrs-'));
    try {
      const client = await registerTestNamespace(connection, namespace, {});
      const workers = await startWorkers({
        temporalAddress: t.address,
        namespace,
        queues: [...QUEUE_ROLES],
        store: d.store,
        events: d.events,
        warmPack: CONTRACT_PACK,
        scratchDir: scratch,
      });
      try {
        const { spec } = await compileJob(
          { seconds: '1', scene: 'night', traffic: 'clear', seed: '22', name: `attrs-none-${process.pid}` },
          CONTRACT_PACK,
        );
        await startJob(client, spec);
        const result = await waitForJob(client, spec.jobId);
        expect(result.segments).toBe(1);
        const desc = await client.workflow.getHandle(segmentWorkflowId(spec.jobId, 0)).describe();
        expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.VldmSegment)).toBeUndefined();
        expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.VldmJob)).toBeUndefined();
        expect(await desc.staticSummary()).toMatch(new RegExp(`^${spec.jobId} segment 0 of 1: frames 0–`));
      } finally {
        await workers.shutdown();
      }
    } finally {
      await connection.close();
    }
  }, 600_000);
});
