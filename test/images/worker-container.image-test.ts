/**
 * The images of infra/docker, built by infra/images.sh (buildah, no Docker engine), run with podman
 * against the real loopback test servers (Temporal, MinIO, NATS; host network): two containers of the
 * CPU worker image, one serving the image's own queues (its CMD: orchestration and media) and one the
 * model queues on onnxruntime's CPU provider (the GPU image's queues), finish a job whose MP4 has the
 * same bytes as `vldm generate` of the same spec on this host. The containers run as uid 10001 on a
 * read-only root filesystem with every capability dropped; the scaler image starts its command. It runs
 * as root (podman and the state folder's owner need it), as this project's machines do.
 *
 * Not part of `npm test` (building the images takes many minutes): run it with
 *   infra/images.sh build worker-cpu scaler && npx vitest run --config test/images/vitest.config.ts
 * (docs/deploy.md, "Build the images without Docker"). It prints the measured start-to-polling times.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServerAddresses } from '../../src/dev/servers';
import { repoRoot } from '../../src/host/paths';
import { probeVideo } from '../../src/media/ffmpeg';
import { runCli } from '../support/cli';
import { CONTRACT_PACK } from '../support/pipeline';
import { TEST_PORTS, testServers, testStateDir } from '../support/servers';

const ROOT = repoRoot();
const IMAGES_SH = path.join(ROOT, 'infra', 'images.sh');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;
const WORKER_IMAGE = `localhost/vldm-worker-cpu:${VERSION}`;
const SCALER_IMAGE = `localhost/vldm-scaler:${VERSION}`;
/** Where the image carries the contract-test pack (COPY models models). */
const IMAGE_PACK = '/opt/vldm/models/contract-test';
/** The containers' metrics ports on the host network, beside the test servers' (shifted like them). */
const METRICS_PORTS = [TEST_PORTS.temporal + 2300, TEST_PORTS.temporal + 2301];
/** A fresh prefix and job names per run: a rerun on the same servers computes everything again. */
const RUN = randomBytes(3).toString('hex');
const BUCKET_STORE = `s3://vldm-image/run-${RUN}`;
const job = ['--seconds', '5', '--scene', 'night', '--traffic', 'crowded', '--seed', '12'];

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vldm-image-'));
const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const started: string[] = [];
let servers: DevServerAddresses;
let podmanEnv: NodeJS.ProcessEnv;

/** The environment infra/images.sh gives podman: its store and configuration in .tools/containers. */
function imagesEnv(): NodeJS.ProcessEnv {
  const r = spawnSync('bash', [IMAGES_SH, 'env'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`infra/images.sh env failed: ${r.stderr}`);
  const env: NodeJS.ProcessEnv = {};
  for (const m of r.stdout.matchAll(/([A-Z_]+)=(\S+)/g)) env[m[1]!] = m[2]!;
  return { ...process.env, ...env };
}

function podman(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('podman', args, { encoding: 'utf8', env: podmanEnv, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** What the chart's ConfigMap and Secrets give a worker pod, here pointing at the loopback servers. */
function workerEnv(metricsPort: number): string[] {
  const env: Record<string, string> = {
    VLDM_TEMPORAL_ADDRESS: servers.temporal!.address,
    VLDM_TEMPORAL_NAMESPACE: 'default',
    VLDM_NATS_URL: servers.nats!.url,
    VLDM_STORE: BUCKET_STORE,
    VLDM_S3_ENDPOINT: servers.minio!.endpoint,
    AWS_ACCESS_KEY_ID: servers.minio!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: servers.minio!.secretAccessKey,
    AWS_REGION: 'us-east-1',
    VLDM_PACK: IMAGE_PACK,
    VLDM_METRICS_PORT: String(metricsPort),
    VLDM_THREADS: '1',
  };
  return Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
}

/** GET /readyz until it answers 200; the seconds it took from `since`. */
async function untilReady(port: number, since: number, name: string, timeoutMs = 300_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (r.status === 200) return (Date.now() - since) / 1000;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} not ready within ${timeoutMs} ms:\n${podman(['logs', name]).stderr}`);
}

/**
 * Starts a worker container as the chart runs a pod: read-only root, writable /tmp and state folder
 * (emptyDirs there, tmpfs here), no capabilities, no privilege escalation, the image's own user.
 */
async function startWorker(
  metricsPort: number,
  args: string[],
): Promise<{ name: string; readySeconds: number }> {
  const name = `vldm-image-test-${randomBytes(4).toString('hex')}`;
  const stateDir = mkdtempSync(path.join(tmp, 'state-'));
  chownSync(stateDir, 10001, 10001);
  const t0 = Date.now();
  const r = podman([
    'run',
    '--detach',
    '--name',
    name,
    '--network',
    'host',
    '--read-only',
    '--tmpfs',
    '/tmp:rw,mode=1777',
    // The state folder: an emptyDir in the chart, a folder owned by the image's user here (podman 4.3
    // gives a tmpfs mounted over the image's /var/lib/vldm to root, whatever its mode option says).
    '--volume',
    `${stateDir}:/var/lib/vldm`,
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    ...workerEnv(metricsPort),
    WORKER_IMAGE,
    ...args,
  ]);
  expect(r.code, r.stderr).toBe(0);
  started.push(name);
  return { name, readySeconds: await untilReady(metricsPort, t0, name) };
}

beforeAll(async () => {
  podmanEnv = imagesEnv();
  servers = await testServers();
});

afterAll(() => {
  for (const name of started) podman(['rm', '--force', '--time', '10', name]);
});

/** Fails the suite with what to run when an image is missing. */
function requireImage(image: string): void {
  if (podman(['image', 'exists', image]).code !== 0)
    throw new Error(`${image} is not built: run infra/images.sh build worker-cpu scaler`);
}

describe('the CPU worker image under podman', () => {
  beforeAll(() => requireImage(WORKER_IMAGE));
  let generated: string;
  const workers: Array<{ name: string; readySeconds: number }> = [];

  it('vldm generate on this host makes the reference video', async () => {
    generated = path.join(tmp, 'generated.mp4');
    const r = await runCli([
      'generate',
      ...job,
      '--name',
      `img-gen-${RUN}`,
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
      path.join(tmp, 'local-artifacts'),
      '--out',
      generated,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(await probeVideo(generated)).toMatchObject({ frames: 120, width: 256, height: 128, fps: 24 });
  });

  it('starts its own queues and the model queues, each polling within minutes', async () => {
    // The image's CMD: `worker --queues orchestration,media`.
    workers.push(await startWorker(METRICS_PORTS[0]!, []));
    workers.push(
      await startWorker(METRICS_PORTS[1]!, ['worker', '--queues', 'keyframe,interpolation,decode,upscale']),
    );
    const logs = workers.map((w) => podman(['logs', w.name]));
    expect(logs[0]!.stdout + logs[0]!.stderr).toMatch(/vldm worker ready: queues orchestration, media/);
    expect(logs[1]!.stdout + logs[1]!.stderr).toMatch(
      /vldm worker ready: queues keyframe, interpolation, decode, upscale/,
    );
    console.log(
      `start-to-polling (podman run to /readyz 200): ${workers.map((w) => `${w.readySeconds.toFixed(1)} s`).join(', ')}`,
    );
  });

  it('runs as uid 10001 on a read-only root filesystem', () => {
    const w = workers[0]!;
    expect(podman(['exec', w.name, 'id', '-u']).stdout.trim()).toBe('10001');
    const write = podman(['exec', w.name, 'sh', '-c', 'touch /opt/vldm/written']);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/Read-only file system/);
    expect(podman(['exec', w.name, 'sh', '-c', 'touch /tmp/ok /var/lib/vldm/ok']).code).toBe(0);
    const inspect = JSON.parse(podman(['inspect', w.name]).stdout) as Array<{
      Config: { User: string };
      HostConfig: { ReadonlyRootfs: boolean; CapDrop?: string[] };
    }>;
    expect(inspect[0]!.Config.User).toBe('10001:10001');
    expect(inspect[0]!.HostConfig.ReadonlyRootfs).toBe(true);
    // The exec probe script of the image answers on the same port the chart's httpGet probes use.
    expect(
      podman([
        'exec',
        '--env',
        `VLDM_METRICS_PORT=${METRICS_PORTS[0]}`,
        w.name,
        'bash',
        'infra/docker/probe.sh',
        'ready',
      ]).code,
    ).toBe(0);
  });

  it('finishes a submitted job with the same bytes as vldm generate', async () => {
    const common = ['--temporal-address', servers.temporal!.address, '--nats', servers.nats!.url];
    const s3 = {
      VLDM_S3_ENDPOINT: servers.minio!.endpoint,
      AWS_ACCESS_KEY_ID: servers.minio!.accessKeyId,
      AWS_SECRET_ACCESS_KEY: servers.minio!.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };
    const sub = await runCli(
      [
        'submit',
        ...job,
        ...common,
        '--store',
        BUCKET_STORE,
        '--pack',
        CONTRACT_PACK,
        '--worker-pack',
        IMAGE_PACK,
        '--name',
        `img-sub-${RUN}`,
        '--json',
      ],
      s3,
    );
    expect(sub.code, sub.stderr).toBe(0);
    const { jobId } = JSON.parse(sub.stdout) as { jobId: string };
    const watched = await runCli(['watch', jobId, ...common, '--json'], s3, 900_000);
    expect(watched.code, watched.stderr + podman(['logs', workers[0]!.name]).stderr).toBe(0);
    expect(JSON.parse(watched.stdout)).toMatchObject({ jobId, status: 'COMPLETED' });
    const fetched = path.join(tmp, 'fetched.mp4');
    const f = await runCli(['fetch', jobId, ...common, '--store', BUCKET_STORE, '--out', fetched], s3);
    expect(f.code, f.stderr).toBe(0);
    expect(sha256(fetched)).toBe(sha256(generated));
  }, 900_000);

  it('stops cleanly on SIGTERM (podman stop), exit status 0', () => {
    for (const w of workers) {
      expect(podman(['stop', '--time', '60', w.name]).code).toBe(0);
      const state = podman(['inspect', '--format', '{{.State.ExitCode}}', w.name]);
      expect(state.stdout.trim(), podman(['logs', w.name]).stderr).toBe('0');
    }
  });
});

describe('the scaler image', () => {
  beforeAll(() => requireImage(SCALER_IMAGE));
  it('starts `vldm scaler run` as uid 10001 (its --help, without a cluster)', () => {
    const r = podman([
      'run',
      '--rm',
      '--read-only',
      '--cap-drop',
      'ALL',
      SCALER_IMAGE,
      'scaler',
      'run',
      '--help',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Usage: vldm scaler run/);
    const id = podman(['run', '--rm', '--entrypoint', 'id', SCALER_IMAGE, '-u']);
    expect(id.stdout.trim()).toBe('10001');
    // No models and no ffmpeg in the scaler image.
    const has = podman([
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      SCALER_IMAGE,
      '-c',
      'ls /opt/vldm; command -v ffmpeg || true',
    ]);
    expect(has.stdout).not.toMatch(/models|ffmpeg/);
  });
});
