/**
 * Chaos: worker processes die mid-job. A 3-segment job runs on three `vldm worker --queues all`
 * processes; at seeded random moments (random points of the job's progress, plus a random delay) a
 * random worker gets `kill -9` and a replacement starts. The job must complete with the MP4 bytes of an
 * undisturbed run of the same spec, and the recomputed work is counted from the progress events.
 *
 * Reproduce: npx tsc -p . && npx vitest run test/integration/chaos-workers.test.ts
 * (VLDM_CHAOS_SEED picks other kill moments and victims; the measured numbers are printed as
 * `[chaos] {...}` lines.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServerAddresses } from '../../src/dev/servers';
import { connectTemporal } from '../../src/client/jobs';
import { compileJob } from '../../src/cli/edge';
import { startJob, waitForJob } from '../../src/client/jobs';
import { CHECKPOINT_EVERY_ENV } from '../../src/activity-runtime/checkpoints';
import { testServers } from '../support/servers';
import { CONTRACT_PACK, s3Env, testS3Store } from '../support/pipeline';
import {
  fleetArgs,
  EventRecord,
  WorkerFleet,
  runJob,
  seededRandom,
  sleep,
  verifyBucket,
  type JobRun,
} from '../support/chaos';

const BUCKET = 'vldm-chaos-kill';
const KILLS = 5;
/** Checkpoint every 2 sampling steps, so kills land between checkpoints and resumes are exercised. */
const CHECKPOINT_EVERY = 2;
const SEED = Number(process.env.VLDM_CHAOS_SEED ?? 20260611);
// 5 s with the contract test pack: 3 segments, 56 stage activities.
const job = { seconds: '5', scene: 'day', traffic: 'crowded', seed: '21' };

let servers: DevServerAddresses;
let fleet: WorkerFleet;
let client: Awaited<ReturnType<typeof connectTemporal>>;

beforeAll(async () => {
  servers = await testServers();
  const args = fleetArgs(servers, { pack: CONTRACT_PACK, bucket: BUCKET, graceSeconds: 2 });
  fleet = new WorkerFleet(args, { ...s3Env(servers), [CHECKPOINT_EVERY_ENV]: String(CHECKPOINT_EVERY) });
  await Promise.all([fleet.start(), fleet.start(), fleet.start()]);
  client = await connectTemporal(servers.temporal!.address, servers.temporal!.namespace);
});

afterAll(async () => {
  await client?.connection.close();
  await fleet?.stopAll();
});

async function mp4(key: string): Promise<Buffer> {
  const store = testS3Store(servers, BUCKET);
  try {
    return Buffer.from(await store.get(key));
  } finally {
    await store.close?.();
  }
}

describe('kill -9 of worker processes mid-job', () => {
  let undisturbed: JobRun;

  it('an undisturbed run of the spec on the same three workers gives the reference bytes', async () => {
    undisturbed = await runJob(
      client,
      { ...job, name: `chaos-ref-${process.pid}` },
      CONTRACT_PACK,
      servers.nats!.url,
    );
    expect(undisturbed.result.segments).toBeGreaterThanOrEqual(3);
    expect(undisturbed.events!.recomputedActivities()).toBe(0);
  }, 300_000);

  it(`survives ${KILLS} kills at random moments with identical bytes and bounded recomputation`, async () => {
    expect(undisturbed, 'the undisturbed run must pass first').toBeDefined();
    const rand = seededRandom(SEED);
    const { spec, plan } = await compileJob({ ...job, name: `chaos-kill-${process.pid}` }, CONTRACT_PACK);
    // Kill moments: points of the job's progress (completed activities), one drawn from the seed in
    // each of KILLS equal stretches of the job, so every kill lands while the job runs however fast or
    // slow this machine is today.
    const first = 2;
    const stretch = (plan.counts.total - 4 - first) / KILLS;
    const moments = Array.from({ length: KILLS }, (_, i) => first + Math.floor((i + rand()) * stretch));

    const events = await EventRecord.start(servers.nats!.url, spec.jobId);
    const kills: Array<{ at: number; progress: number; worker: number }> = [];
    const replacements: Array<Promise<unknown>> = [];
    const t0 = Date.now();
    let finished = false;
    try {
      await startJob(client, spec);
      const done = waitForJob(client, spec.jobId).finally(() => (finished = true));
      const chaos = (async () => {
        for (const point of moments) {
          await Promise.race([events.until(() => events.completed() >= point), done.catch(() => undefined)]);
          if (finished) return;
          await sleep(rand() * 2_000);
          // Never the last live worker: a cluster keeps at least one pod while replacements start.
          while (fleet.live().length < 2) await sleep(200);
          const live = fleet.live();
          const victim = live[Math.floor(rand() * live.length)];
          kills.push({ at: Date.now(), progress: events.completed(), worker: victim.id });
          await fleet.kill(victim);
          // The replacement starts in the background, as a new pod would; the next kill does not wait.
          replacements.push(fleet.start());
        }
      })();
      const [result] = await Promise.all([done, chaos]);
      await Promise.all(replacements);
      const seconds = (Date.now() - t0) / 1000;

      expect(kills.length, `the job ended after ${kills.length} kills`).toBe(KILLS);
      expect(result.sha256).toBe(undisturbed.result.sha256);
      expect((await mp4(result.outputKey)).equals(await mp4(undisturbed.result.outputKey))).toBe(true);

      const extraSteps = events.stepEvents() - undisturbed.events!.stepEvents();
      const recomputed = events.recomputedActivities();
      const check = await verifyBucket(servers, BUCKET, `artifacts/jobs/${spec.jobId}/`);
      const report = {
        test: 'worker-kills',
        seed: SEED,
        kills: kills.map((k) => ({
          afterActivities: k.progress,
          worker: k.worker,
          atSeconds: Math.round((k.at - t0) / 100) / 10,
        })),
        activities: plan.counts.total,
        recomputedActivities: recomputed,
        recomputedSteps: extraSteps,
        stepsUndisturbed: undisturbed.events!.stepEvents(),
        checkpointEvery: CHECKPOINT_EVERY,
        maxStepsPerActivity: events.maxStepsPerActivity(),
        retried: events.retries(kills.map((k) => k.at)),
        jobSeconds: { undisturbed: Math.round(undisturbed.seconds), disturbed: Math.round(seconds) },
        artifactsChecked: check.objects,
      };
      console.log(`[chaos] ${JSON.stringify(report)}`);
      expect(check.bad).toEqual([]);
      // Each kill loses the activities running on the victim: with checkpoints every N steps each of
      // them redoes at most N steps (plus the step in flight); at most one activity per queue slot of a
      // worker (DEFAULT_CONCURRENCY: 1 keyframe + 2 interpolation + 2 decode + 2 upscale) runs at once.
      const slotsPerWorker = 7;
      expect(extraSteps).toBeLessThanOrEqual(KILLS * slotsPerWorker * (CHECKPOINT_EVERY + 1));
    } finally {
      await Promise.allSettled(replacements);
      await events.stop();
      if (!finished)
        await client.workflow
          .getHandle(spec.jobId)
          .terminate('chaos test failed')
          .catch(() => undefined);
    }
  }, 420_000);
});
