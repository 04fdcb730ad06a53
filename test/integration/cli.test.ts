/**
 * The `vldm` command as people use it, each call a separate process against the real test servers:
 * generate (embedded default), and the cluster path submit → worker (another process) → watch →
 * fetch, which must give the same bytes; status, list, plan, models verify.
 */
import os from 'node:os';
import path from 'node:path';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServerAddresses } from '../../src/dev/servers';
import { testServers, testStateDir } from '../support/servers';
import { runCli, startCli } from '../support/cli';
import { CONTRACT_PACK, s3Env } from '../support/pipeline';
import { probeVideo } from '../../src/media/ffmpeg';

let servers: DevServerAddresses;
let common: string[];
let env: NodeJS.ProcessEnv;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vldm-cli-'));
const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const job = ['--seconds', '5', '--scene', 'day', '--traffic', 'clear', '--seed', '5'];

beforeAll(async () => {
  servers = await testServers();
  common = [
    '--temporal-address',
    servers.temporal!.address,
    '--temporal-ui',
    servers.temporal!.uiUrl,
    '--nats',
    servers.nats!.url,
    '--state-dir',
    testStateDir(),
    '--pack',
    CONTRACT_PACK,
  ];
  env = s3Env(servers);
});

afterAll(() => undefined);

describe('vldm generate and the cluster path give the same video', () => {
  let generated: string;

  it('generate writes the MP4 and one JSON object with the job summary', async () => {
    generated = path.join(tmp, 'generated.mp4');
    const r = await runCli([
      'generate',
      ...job,
      ...common,
      '--name',
      'cli-gen',
      '--store',
      path.join(tmp, 'local-artifacts'),
      '--out',
      generated,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ output: generated, frames: 120, width: 256, height: 128, fps: 24 });
    expect(summary.jobId).toMatch(/^cli-gen-[0-9a-f]{10}$/);
    expect(summary.temporalUiUrl).toBe(
      `${servers.temporal!.uiUrl}/namespaces/default/workflows/${summary.jobId as string}`,
    );
    expect((summary.activities as { total: number }).total).toBeGreaterThan(20);
    expect(await probeVideo(generated)).toMatchObject({ frames: 120, width: 256, height: 128, fps: 24 });
  });

  it('generate stops on SIGTERM, says how to go on, and the same command resumes the job', async () => {
    const store = path.join(tmp, 'interrupted-artifacts');
    const out = path.join(tmp, 'interrupted.mp4');
    const args = [
      'generate',
      // Another seed than the other tests' job (a flag may be given only once, so not appended).
      ...job.map((a, i) => (job[i - 1] === '--seed' ? '6' : a)),
      ...common,
      '--name',
      'cli-int',
      '--store',
      store,
      '--out',
      out,
    ];
    const { child, log } = await startCli(args, {}, /Temporal UI: /);
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    // Wait until some activities have stored their outputs, so there is finished work to keep.
    const files = () => (existsSync(store) ? readdirSync(store, { recursive: true }).length : 0);
    const until = Date.now() + 120_000;
    while (files() < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    expect(files()).toBeGreaterThanOrEqual(6);
    const t0 = Date.now();
    child.kill('SIGTERM');
    const [code] = await exited;
    const stopSeconds = (Date.now() - t0) / 1000;
    expect(code, log()).toBe(143);
    expect(log()).toMatch(
      /interrupted \(SIGTERM\): .*Job cli-int-[0-9a-f]{10} stays in Temporal .*run the same command again/s,
    );
    // Running activities get the workers' shutdown grace (30 s) at most; the contract pack's are short.
    expect(stopSeconds).toBeLessThan(40);
    expect(existsSync(out)).toBe(false); // nothing half-written
    // The job is still running in Temporal, with the activities it finished recorded in its history.
    const jobId = /Job (cli-int-[0-9a-f]{10})/.exec(log())?.[1] as string;
    const connection = await Connection.connect({ address: servers.temporal!.address });
    try {
      const handle = new Client({ connection }).workflow.getHandle(jobId);
      const before = await handle.describe();
      expect(before.status.name).toBe('RUNNING');

      // The same command attaches to that run (the job id is the spec's) and finishes it.
      const again = await runCli([...args, '--json']);
      expect(again.code, again.stderr).toBe(0);
      const summary = JSON.parse(again.stdout) as { jobId: string };
      expect(summary.jobId).toBe(jobId);
      const after = await handle.describe();
      expect([after.runId, after.status.name]).toEqual([before.runId, 'COMPLETED']);
      expect(await probeVideo(out)).toMatchObject({ frames: 120, width: 256, height: 128, fps: 24 });
    } finally {
      await connection.close();
    }
  });

  it('submit + a worker in another process + watch + fetch produce the same bytes', async () => {
    const store = ['--store', 's3://vldm-cli/artifacts'];
    // Submitted before any worker serves it, so it is still running when submitted again: the second
    // submit attaches to the run instead of starting another, and says so.
    const submit = ['submit', ...job, ...common, ...store, '--name', 'cli-sub', '--json'];
    const sub = await runCli(submit, env);
    expect(sub.code, sub.stderr).toBe(0);
    const first = JSON.parse(sub.stdout) as { jobId: string; attached: boolean };
    expect(first).toMatchObject({ attached: false });
    const jobId = first.jobId;
    expect(jobId).toMatch(/^cli-sub-/);
    const again = await runCli(submit, env);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ jobId, attached: true });
    const text = await runCli(submit.slice(0, -1), env);
    expect(text.stdout).toMatch(new RegExp(`^already running: job ${jobId} `));

    const worker = await startCli(
      ['worker', '--queues', 'all', ...common, ...store, '--grace-seconds', '5'],
      env,
      /vldm worker ready/,
    );
    try {
      const watched = await runCli(['watch', jobId, ...common, '--json'], env);
      expect(watched.code, watched.stderr).toBe(0);
      expect(JSON.parse(watched.stdout)).toMatchObject({
        jobId,
        status: 'COMPLETED',
        progressSource: 'nats',
      });

      const fetched = path.join(tmp, 'fetched.mp4');
      const f = await runCli(['fetch', jobId, ...common, ...store, '--out', fetched], env);
      expect(f.code, f.stderr).toBe(0);
      expect(sha256(fetched)).toBe(sha256(generated));

      const st = await runCli(['status', jobId, ...common, '--json'], env);
      expect(st.code, st.stderr).toBe(0);
      const status = JSON.parse(st.stdout) as {
        status: string;
        progress: { stages: Record<string, { done: number; total: number }> };
      };
      expect(status.status).toBe('COMPLETED');
      expect(status.progress.stages.upscale.done).toBe(status.progress.stages.upscale.total);

      const ls = await runCli(['list', ...common, '--json'], env);
      expect(ls.code, ls.stderr).toBe(0);
      expect((JSON.parse(ls.stdout) as Array<{ jobId: string }>).map((j) => j.jobId)).toContain(jobId);
    } finally {
      worker.child.kill('SIGTERM');
      const [code] = (await once(worker.child, 'exit')) as [number | null];
      expect(code, worker.log()).toBe(0);
      expect(worker.log()).toMatch(/SIGTERM: stopping/);
    }
  });

  it('plan prints the segments and activity counts without running anything', async () => {
    const r = await runCli(['plan', ...job, '--pack', CONTRACT_PACK, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout) as {
      plan: { frames: number; segments: unknown[]; counts: { total: number } };
    };
    expect(p.plan.frames).toBe(120);
    expect(p.plan.segments).toHaveLength(3);
  });

  it('models verify passes on the contract test pack', async () => {
    const r = await runCli(['models', 'verify', CONTRACT_PACK]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/OK/);
  });
});
