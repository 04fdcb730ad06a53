/**
 * The model-compute tool (src/bench/model-compute.ts) on a real `vldm generate` against the test
 * servers: its speed table is timed on the pack, the job runs with the call ledger on and gives the
 * same bytes as without it, every render stage's calls are recorded at no more than the table's time
 * per call (the table is timed at the largest shapes), and the ratio is the job's wall over the bench's
 * own lower bound. The tool refuses the flags it sets itself, and generate refuses emulated slots.
 * The README job's numbers are measured by hand (docs/performance.md).
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { measureModelCompute, formatModelCompute } from '../../src/bench/model-compute';
import { ACCELERATOR_ENV } from '../../src/bench/accelerator';
import { defaultSpeedTable } from '../../src/bench/speed-table';
import { testServers, testStateDir } from '../support/servers';
import { runCli } from '../support/cli';
import { CONTRACT_PACK } from '../support/pipeline';

const job = ['--seconds', '2', '--scene', 'day', '--traffic', 'clear', '--seed', '11'];
let common: string[];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vldm-model-compute-test-'));

beforeAll(async () => {
  const servers = await testServers();
  common = [
    '--temporal-address',
    servers.temporal!.address,
    '--temporal-ui',
    servers.temporal!.uiUrl,
    '--nats',
    servers.nats!.url,
    '--state-dir',
    testStateDir(),
  ];
});

describe('model compute of a real job', () => {
  it('times the pack, runs the job with the ledger on (same bytes) and bounds it with the bench code', async () => {
    const lines: string[] = [];
    const r = await measureModelCompute({
      runs: 2,
      pack: CONTRACT_PACK,
      generateArgs: [...job, ...common, '--name', 'model-compute'],
      log: (l) => lines.push(l),
    });
    expect(r.emulated).toBe(false);
    expect(Object.keys(r.table.roles).sort()).toEqual(['decoder', 'interpolation', 'keyframe', 'upsampler']);
    for (const s of Object.values(r.table.roles)) expect(s!.ms).toBeGreaterThan(0);
    expect(r.job.frames).toBe(48);
    expect(r.job.activities.reused).toBe(0);

    // Every render stage's calls were recorded, none at more than the table's time per call.
    const perCall = {
      keyframe: 'keyframe',
      interpolation: 'interpolation',
      decode: 'decoder',
      upscale: 'upsampler',
    };
    for (const [stage, role] of Object.entries(perCall)) {
      const c = r.contention[stage];
      expect(c.calls).toBeGreaterThan(0);
      expect(c.uncontendedSeconds).toBeGreaterThan(0);
      const tableMs = r.table.roles[role as keyof typeof r.table.roles]!.ms;
      expect((c.uncontendedSeconds * 1000) / c.calls).toBeLessThanOrEqual(tableMs * 1.001 + 0.05);
      expect(c.realSeconds).toBeGreaterThan(0);
      expect(c.factor).toBeGreaterThan(0);
    }
    // The bench's bound: model seconds over the cores, or the chain and its tail.
    const b = r.lowerBound;
    expect(b.perSlotSeconds).toBeCloseTo(b.slotSeconds / r.cores, 1);
    expect(b.seconds).toBeCloseTo(Math.max(b.perSlotSeconds, b.chainSeconds + b.tailSeconds), 1);
    expect(b.tailSeconds).toBeGreaterThan(0);
    // (Both are rounded to 0.1 s, and this job takes under a second of model time.)
    expect(r.ratio.span).toBeCloseTo(r.job.spanSeconds / b.seconds, 0);
    expect(r.job.commandSeconds).toBeGreaterThan(r.job.spanSeconds);
    expect(formatModelCompute(r)).toContain('not emulated');

    // The same spec under another name (another job) without the ledger, on a fresh store: the same MP4.
    const plain = await runCli([
      'generate',
      ...job,
      ...common,
      '--name',
      'model-compute-plain',
      '--pack',
      CONTRACT_PACK,
      '--store',
      path.join(tmp, 'plain-store'),
      '--out',
      path.join(tmp, 'plain.mp4'),
      '--json',
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout.trim().split('\n').pop() as string).sha256).toBe(r.job.sha256);
  }, 300_000);

  it('refuses the flags it sets itself', async () => {
    await expect(
      measureModelCompute({
        runs: 1,
        pack: CONTRACT_PACK,
        generateArgs: [...job, '--out', 'x.mp4'],
        log: () => {},
      }),
    ).rejects.toThrow('--out is set by this tool');
  });

  it('generate refuses emulated accelerators that hold calls', async () => {
    const settings = {
      slots: 2,
      table: defaultSpeedTable(),
      dilation: 1,
      traceFile: path.join(tmp, 't.jsonl'),
    };
    const r = await runCli(
      ['generate', ...job, ...common, '--pack', CONTRACT_PACK, '--out', path.join(tmp, 'held.mp4')],
      { [ACCELERATOR_ENV]: JSON.stringify(settings) },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('generate only records model calls ("hold": false)');
  });
});
