/**
 * Records the workflow histories that test/integration/replay.test.ts replays against the current
 * workflow code: a 3-segment job (the parent) and one of its segment children, and a job that fails
 * with a non-retryable bad-input error (render version 1, recorded before the whole-video render);
 * and, for render version 2, a 3-segment job, its middle segment (which borrows and lends), and a job
 * run in chapters with one of its chapters; and, after the `child-search-attributes` patch, on a server
 * with vldm's search attributes, the same job, chaptered job and chapter again; and that job once more
 * after the speed probes got a heartbeat timeout. Never overwrite a fixture of an older version: record into
 * another folder and copy only the new files. Re-record only on purpose, after a change that is meant
 * to alter histories (and that running jobs survive, e.g. behind `patched()`):
 *
 *   npx tsc -p . && node dist/test/support/record-histories.js [outDir]
 *
 * It starts its own Temporal dev server in a temporary folder (ports 37233/38233, or
 * $VLDM_RECORD_PORT and that + 1000), runs the workers in this process with the contract test pack
 * and a local artifact folder, and writes test/fixtures/histories/*.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  QUEUE_ROLES,
  SEARCH_ATTRIBUTES,
  TASK_QUEUES,
  WORKFLOW_TYPES,
  chapterWorkflowId,
  segmentWorkflowId,
} from '../../src/common/names';
import { compileJob } from '../../src/cli/edge';
import { connectTemporal, startJob, waitForJob } from '../../src/client/jobs';
import { devDown, devUp } from '../../src/dev/servers';
import { repoRoot } from '../../src/host/paths';
import { NullEventBus } from '../../src/events';
import { LocalArtifactStore } from '../../src/storage';
import { startWorkers } from '../../src/worker/workers';
import { historyToJson } from './histories';

export const HISTORY_FIXTURES = path.join(repoRoot(), 'test', 'fixtures', 'histories');

/** The fixtures and the workflow that each one replays. */
export const RECORDED = {
  'job-3-segments.json': WORKFLOW_TYPES.job,
  'segment-render.json': WORKFLOW_TYPES.segment,
  'job-failed-bad-input.json': WORKFLOW_TYPES.job,
  'job-v2-3-segments.json': WORKFLOW_TYPES.job,
  'segment-v2-lending.json': WORKFLOW_TYPES.segment,
  'job-v2-chapters.json': WORKFLOW_TYPES.job,
  'chapter-v2.json': WORKFLOW_TYPES.chapter,
  'job-v2-attributes.json': WORKFLOW_TYPES.job,
  'job-v2-chapters-attributes.json': WORKFLOW_TYPES.job,
  'chapter-v2-attributes.json': WORKFLOW_TYPES.chapter,
  'job-v2-probe-heartbeat.json': WORKFLOW_TYPES.job,
} as const;

const CONTRACT_PACK = path.join(repoRoot(), 'models', 'contract-test');

async function record(outDir: string): Promise<void> {
  const port = Number(process.env.VLDM_RECORD_PORT ?? 37233);
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'vldm-record-'));
  const log = (l: string) => process.stderr.write(`${l}\n`);
  try {
    const servers = await devUp({
      stateDir,
      kinds: ['temporal'],
      ports: { temporal: port, temporalUi: port + 1000 },
      searchAttributes: { ...SEARCH_ATTRIBUTES },
    });
    const t = servers.temporal!;
    const store = new LocalArtifactStore(path.join(stateDir, 'artifacts'));
    // Histories are recorded without encryption, so the replay needs no keys.
    const codecOff = { encode: async <T>(p: T) => p, decode: async <T>(p: T) => p };
    const workers = await startWorkers({
      temporalAddress: t.address,
      namespace: t.namespace,
      queues: [...QUEUE_ROLES],
      store,
      events: new NullEventBus(),
      warmPack: CONTRACT_PACK,
      scratchDir: path.join(stateDir, 'scratch'),
      payloadCodec: codecOff,
    });
    const client = await connectTemporal(t.address, t.namespace, { payloadCodec: codecOff });
    try {
      mkdirSync(outDir, { recursive: true });
      const write = async (file: keyof typeof RECORDED, workflowId: string) => {
        const history = await client.workflow.getHandle(workflowId).fetchHistory();
        writeFileSync(path.join(outDir, file), historyToJson(history));
        log(`wrote ${file}: ${history.events?.length} events`);
      };

      // 5 s with the contract test pack: 9 keyframes in 3 segments; segment 2 is the smallest child
      // that still runs every stage (both interpolation passes, decode, upscale, encode).
      const { spec, plan } = await compileJob(
        { seconds: '5', scene: 'day', seed: '1', name: 'replay-fixture' },
        CONTRACT_PACK,
      );
      log(`running ${spec.jobId} (${plan.counts.total} activities)…`);
      await startJob(client, spec);
      await waitForJob(client, spec.jobId);
      // Recorded now, this job is render version 2: the files of version 1 keep their older recording.
      // Recorded after the `child-search-attributes` patch, on a server with vldm's search
      // attributes: the *-attributes files; the others keep their recordings from before it.
      await write('job-v2-attributes.json', spec.jobId);
      // Recorded after the speed probes got a heartbeat timeout (workflows/proxies.ts).
      await write('job-v2-probe-heartbeat.json', spec.jobId);
      await write('job-v2-3-segments.json', spec.jobId);
      await write('segment-v2-lending.json', segmentWorkflowId(spec.jobId, 1));
      await write('job-3-segments.json', spec.jobId);
      await write('segment-render.json', segmentWorkflowId(spec.jobId, plan.segments.length - 1));

      // The same job with its chain in chapters of one segment each.
      const chaptered = { ...spec, jobId: 'replay-fixture-chapters' };
      await startJob(client, chaptered, { chapterSegments: 1 });
      await waitForJob(client, chaptered.jobId);
      await write('job-v2-chapters.json', chaptered.jobId);
      await write('chapter-v2.json', chapterWorkflowId(chaptered.jobId, 1));
      await write('job-v2-chapters-attributes.json', chaptered.jobId);
      await write('chapter-v2-attributes.json', chapterWorkflowId(chaptered.jobId, 1));

      // A spec the workers reject (a label the pack does not have): prepareJob fails non-retryably.
      const bad = { ...spec, jobId: 'replay-fixture-bad-input', scene: 'sunset' };
      const handle = await client.workflow.start(WORKFLOW_TYPES.job, {
        args: [bad],
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: bad.jobId,
      });
      await handle.result().then(
        () => {
          throw new Error('the bad-input job completed; it must fail');
        },
        () => undefined,
      );
      await write('job-failed-bad-input.json', bad.jobId);
    } finally {
      await client.connection.close();
      await workers.shutdown();
    }
  } finally {
    await devDown({ stateDir });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  record(path.resolve(process.argv[2] ?? HISTORY_FIXTURES)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
