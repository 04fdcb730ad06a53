/**
 * The `vldm` command as people use it, each call a separate process against the real test servers:
 * generate (embedded default), and the cluster path submit → worker (another process) → watch →
 * fetch, which must give the same bytes; status, list, plan, models verify.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
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

  it('submit + a worker in another process + watch + fetch produce the same bytes', async () => {
    const store = ['--store', 's3://vldm-cli/artifacts'];
    const worker = await startCli(
      ['worker', '--queues', 'all', ...common, ...store, '--grace-seconds', '5'],
      env,
      /vldm worker ready/,
    );
    try {
      const sub = await runCli(['submit', ...job, ...common, ...store, '--name', 'cli-sub', '--json'], env);
      expect(sub.code, sub.stderr).toBe(0);
      const { jobId } = JSON.parse(sub.stdout) as { jobId: string };
      expect(jobId).toMatch(/^cli-sub-/);

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
