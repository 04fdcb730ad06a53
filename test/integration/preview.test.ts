/**
 * The early preview (src/client/preview.ts): `vldm generate` writes `<out>.preview.mp4` from the
 * frames decoded so far while the job runs, says so on its output as soon as the first frames exist,
 * and names it in --json; at the end the preview holds every frame at the pack's base resolution.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileJob } from '../../src/cli/edge';
import { probeVideo } from '../../src/media/ffmpeg';
import { runCli } from '../support/cli';
import { CONTRACT_PACK, s3Env } from '../support/pipeline';
import { testServers, testStateDir } from '../support/servers';
import type { DevServerAddresses } from '../../src/dev/servers';

let servers: DevServerAddresses;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vldm-preview-'));

beforeAll(async () => {
  servers = await testServers();
}, 120_000);

describe('early preview', () => {
  it('vldm generate keeps a base-resolution preview of the decoded frames next to the output', async () => {
    const job = [
      '--seconds',
      '3',
      '--scene',
      'day',
      '--traffic',
      'clear',
      '--seed',
      '11',
      '--name',
      `preview-${process.pid}`,
    ];
    const { plan, pack } = await compileJob(
      { seconds: '3', scene: 'day', traffic: 'clear', seed: '11', name: `preview-${process.pid}` },
      CONTRACT_PACK,
    );
    const out = path.join(tmp, 'video.mp4');
    const t0 = Date.now();
    const r = await runCli(
      [
        'generate',
        ...job,
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
        '--store',
        path.join(tmp, 'artifacts'),
        '--out',
        out,
        '--json',
      ],
      s3Env(servers),
    );
    const wall = (Date.now() - t0) / 1000;
    expect(r.code, r.stderr).toBe(0);
    const previewFile = path.join(tmp, 'video.preview.mp4');
    const summary = JSON.parse(r.stdout) as {
      preview: { file: string; frames: number; firstSeconds: number };
    };
    expect(summary.preview.file).toBe(previewFile);
    expect(summary.preview.frames).toBe(plan.frames);
    // Said as soon as it existed: before the job ended, so before the command did.
    expect(r.stderr).toMatch(
      new RegExp(
        `preview: ${previewFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(\\d+ of ${plan.frames} frames at ${pack.base.width}×${pack.base.height}, after [\\d.]+ s`,
      ),
    );
    expect(summary.preview.firstSeconds).toBeGreaterThan(0);
    expect(summary.preview.firstSeconds).toBeLessThan(wall);
    // The last update holds every frame, at the base resolution and the job's rate.
    expect(existsSync(previewFile)).toBe(true);
    expect(existsSync(`${previewFile}.partial.mp4`)).toBe(false);
    expect(await probeVideo(previewFile)).toMatchObject({
      frames: plan.frames,
      width: pack.base.width,
      height: pack.base.height,
      fps: plan.fps,
    });
    // `vldm fetch --preview` makes the same preview from the store (any job, running or finished).
    const { jobId } = JSON.parse(r.stdout) as { jobId: string };
    const fetched = path.join(tmp, 'fetched-preview.mp4');
    const f = await runCli(
      [
        'fetch',
        jobId,
        '--preview',
        '--out',
        fetched,
        '--json',
        '--temporal-address',
        servers.temporal!.address,
        '--store',
        path.join(tmp, 'artifacts'),
      ],
      s3Env(servers),
    );
    expect(f.code, f.stderr).toBe(0);
    expect(JSON.parse(f.stdout)).toMatchObject({
      jobId,
      preview: fetched,
      frames: plan.frames,
      fps: plan.fps,
    });
    expect(await probeVideo(fetched)).toMatchObject({
      frames: plan.frames,
      width: pack.base.width,
      height: pack.base.height,
    });
    const none = await runCli([
      'fetch',
      'absent-job-0000',
      '--preview',
      '--out',
      fetched,
      '--temporal-address',
      servers.temporal!.address,
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toMatch(/^vldm: no job "absent-job-0000"/);
    process.stderr.write(
      `preview: first after ${summary.preview.firstSeconds.toFixed(1)} s of a ${wall.toFixed(1)} s command\n`,
    );
  }, 600_000);
});
