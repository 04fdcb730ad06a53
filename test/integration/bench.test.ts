/**
 * `vldm bench` end to end on the real test servers: a 5 s job (two segments, so work is lent across the
 * boundary) of the bench pack on EMULATED accelerators, once on the folder store with one slot in one
 * GPU worker process and once on MinIO with three slots in two processes. Same spec, same bytes across
 * G, worker counts and stores; the report's numbers hold together (makespan at or above its lower
 * bound, one record per attempt, histories inside Temporal's limits). The fleet-scale numbers
 * themselves are measured by hand (docs/performance.md), not here.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBench, type ChaosOptions } from '../../src/bench/run';
import { emulationLabel, formatResult, type BenchResult } from '../../src/bench/report';
import { defaultSpeedTable } from '../../src/bench/speed-table';
import { compileJob } from '../../src/cli/edge';
import type { DevServerAddresses } from '../../src/dev/server-types';
import { repoRoot } from '../../src/host/paths';
import { registerTestNamespace } from '../support/temporal-namespace';
import { testServers } from '../support/servers';
import { s3Env } from '../support/pipeline';
import { runCli } from '../support/cli';

const NAMESPACE = `vldm-bench-${process.pid}`;
const BENCH_PACK = path.join(repoRoot(), 'models', 'bench');
const dir = mkdtempSync(path.join(os.tmpdir(), 'vldm-bench-'));
let servers: DevServerAddresses;

beforeAll(async () => {
  servers = await testServers({ kinds: ['temporal', 'minio'] });
  const connection = await Connection.connect({ address: servers.temporal!.address });
  await registerTestNamespace(connection, NAMESPACE);
  await connection.close();
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bench(
  name: string,
  gpus: number,
  processes: number,
  store: 'folder' | 'minio',
  chaos?: ChaosOptions,
  threads: { gpuNice?: number; noiseThreads?: number; modelThreads?: number } = {},
): Promise<BenchResult> {
  const { gpuNice, noiseThreads, modelThreads } = threads;
  const { spec, plan } = await compileJob({ seconds: '5', seed: '4', scene: 'night' }, BENCH_PACK);
  const env = s3Env(servers);
  return runBench({
    spec: { ...spec, jobId: `bench-test-${name}-${process.pid}` },
    expectedFrames: plan.frames,
    width: plan.width,
    height: plan.height,
    gpus,
    processes,
    dilation: 1,
    table: defaultSpeedTable(),
    schedule: 'dataflow',
    temporalAddress: servers.temporal!.address,
    namespace: NAMESPACE,
    store: store === 'minio' ? `s3://vldm-bench-test/${name}` : path.join(dir, name, 'artifacts'),
    storeEnv:
      store === 'minio'
        ? (Object.fromEntries(Object.entries(env).filter(([, v]) => v)) as Record<string, string>)
        : {},
    workDir: path.join(dir, name),
    ...(chaos ? { chaos } : {}),
    ...(gpuNice !== undefined ? { gpuNice } : {}),
    ...(noiseThreads !== undefined ? { noiseThreads } : {}),
    ...(modelThreads !== undefined ? { modelThreads } : {}),
    log: () => undefined,
  });
}

describe('vldm bench (emulated accelerators)', () => {
  let one: BenchResult;
  let three: BenchResult;

  it('runs a two-segment job on 1 slot (folder store, noise and model calls inline) and on 3 slots in 2 processes (MinIO, noise and model threads) with the same bytes', async () => {
    // g1 computes its tiles' noise and runs its model calls on the activities' own thread; g3 has 3
    // noise threads per process and 2 threads per model session.
    one = await bench('g1', 1, 1, 'folder', undefined, { noiseThreads: 0, modelThreads: 0 });
    three = await bench('g3', 3, 2, 'minio', undefined, { gpuNice: 7, noiseThreads: 3, modelThreads: 2 });
    for (const r of [one, three]) {
      expect(r.emulated).toBe(true);
      expect(r.label).toBe(emulationLabel(r.pack));
      expect(r.pack).toMatch(/models\/bench$/);
      expect(r.frames.ffprobe).toBe(120);
      expect(r.frames.expected).toBe(120);
      expect(r.activities.failedAttempts).toBe(0);
    }
    expect(three.processes).toBe(2);
    expect(three.sha256).toBe(one.sha256);
    // The niceness is the kernel's, read back from the GPU workers; a lower priority changes no byte.
    expect(one.gpuNice).toBe(0);
    expect(three.gpuNice).toBe(7);
    expect(formatResult(three).split('\n')[0]).toContain(
      'GPU workers at nice 7 with 3 noise threads and 2 model threads per session each',
    );
    expect(one.noiseThreads).toBe(0);
    expect(one.modelThreads).toBe(0);
  }, 600_000);

  it('ends in the same bytes when workers are killed during the job (SIGKILL and SIGTERM, replaced)', async () => {
    const r = await bench('g3-chaos', 3, 2, 'minio', { kills: 3, everyMs: 3_000, seed: 5 });
    // The job may end before the third kill; it always outlives the first (workers take seconds to
    // start again, the job tens of seconds).
    expect(r.chaos?.kills).toBeGreaterThanOrEqual(1);
    expect(r.chaos!.sigkill + r.chaos!.sigterm).toBe(r.chaos!.kills);
    expect(r.frames.ffprobe).toBe(120);
    expect(r.sha256).toBe(one.sha256);
    expect(formatResult(r)).toMatch(/chaos: \d+ worker kills/);
  }, 600_000);

  it('reports a makespan at or above its lower bound, and histories inside Temporal limits', () => {
    for (const r of [one, three]) {
      expect(r.lowerBound.slotSeconds).toBeGreaterThan(0);
      expect(r.lowerBound.chainSeconds).toBeGreaterThan(0);
      expect(r.makespanSeconds).toBeGreaterThanOrEqual(r.lowerBound.seconds);
      expect(r.ratio).toBeGreaterThanOrEqual(1);
      expect(r.utilisation.all).toBeGreaterThan(0);
      expect(r.utilisation.all).toBeLessThanOrEqual(1);
      // the job, two segments; each attempt recorded once, the job's plan and 4 speed probes at least
      expect(r.workflows.count).toBe(3);
      expect(r.activities.attempts).toBeGreaterThanOrEqual(r.overhead.queueWait.count);
      expect(r.overhead.scheduledToStarted.count).toBe(r.overhead.queueWait.count);
      expect(r.overhead.startedToFirstCall.count).toBeGreaterThan(0);
      expect(r.workflows.maxEvents.events).toBeLessThan(10_240);
      expect(r.workflows.maxPendingActivities).toBeGreaterThan(0);
      expect(r.workflows.maxPendingActivities).toBeLessThanOrEqual(1000);
      expect(r.storedBytes.total).toBeGreaterThan(0);
      expect(r.cpu.cores).toBeGreaterThanOrEqual(1);
      const text = formatResult(r);
      expect(text.split('\n')[0]).toContain('EMULATED');
      expect(text).toContain(`sha256 ${r.sha256}`);
    }
    // The slot part of the lower bound divides the same work by G.
    expect(three.lowerBound.perSlotSeconds).toBeLessThan(one.lowerBound.perSlotSeconds);
    // A record per attempt on disk, as JSON lines.
    const trace = readFileSync(path.join(dir, 'g1', 'trace-gpu-0.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(trace.length).toBeGreaterThan(10);
    expect(JSON.parse(trace[0])).toMatchObject({ pid: expect.any(Number), busyMs: expect.any(Number) });
  });

  it('refuses bad flags with one line before any server starts', async () => {
    for (const [argv, msg] of [
      [['bench', '--gpus', '0'], /--gpus/],
      [['bench', '--gpus', '8,x'], /--gpus/],
      [['bench', '--schedule', 'fast'], /--schedule must be dataflow, barrier or both/],
      [['bench', '--dilation', '-2'], /--dilation must be a number > 0/],
      [['bench', '--gpu-nice', '20'], /--gpu-nice/],
      [['bench', '--gpu-nice', 'low'], /--gpu-nice/],
      [['bench', '--bench-store', 'ftp'], /--bench-store must be folder or minio/],
      [['bench', '--gpu-factor', '0'], /--gpu-factor must be a number > 0/],
      [['bench', '--speed-table', path.join(dir, 'missing.json')], /speed table/],
      [['bench', '--kills', '0'], /--kills/],
      [['bench', '--kills', '2', '--kill-every', 'soon'], /--kill-every must be a number > 0/],
    ] as const) {
      const r = await runCli([...argv, '--state-dir', path.join(dir, 'refused')]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), argv.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
    expect(existsSync(path.join(dir, 'refused', 'bench', 'servers'))).toBe(false);
  });
});
