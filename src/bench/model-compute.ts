/**
 * A real job against its own model compute (docs/performance.md, "The README job against its model
 * compute"):
 *
 *   node dist/src/bench/model-compute.js [--runs 5] [--pack dir] [--json] [-- <vldm generate flags>]
 *
 * 1. Times one call of each stage's model at the job's shapes on this machine, alone and inline (one
 *    intra-op thread, no model threads), `--runs` times after a warm-up: the machine's uncontended
 *    speeds, as a speed table (src/bench/speed-table.ts).
 * 2. Runs `vldm generate` (the README's job unless flags follow `--`) in a child process with a fresh
 *    artifact folder and the call ledger on (src/bench/accelerator.ts, `hold: false`): nothing is held
 *    or emulated, and each attempt records the table's time of the calls it made.
 * 3. Gives those records to `lowerBound`, the bench's own code: max(keyframe chain + the shortest render
 *    tail, model-call seconds ÷ cores). The job's wall time over that bound is the ratio issue 10 asks
 *    to be ≤ 1.25. How much slower the calls ran inside the job than alone is printed per stage: that
 *    is what sharing the cores costs.
 *
 * The calls are real CPU calls of the pack: this is not an emulation, and nothing here is dilated.
 */
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { UserError } from '../common/errors';
import { quote } from '../common/quote';
import { median } from '../common/stats';
import { defaultPack } from '../config/config';
import { parseInteger } from '../config/values';
import { repoRoot } from '../host/paths';
import { ModelCache } from '../activity-runtime/model-cache';
import { stageOfActivity } from '../observability/metrics';
import { MEASURED_STAGES } from '../planning/timeouts';
import { stageProbe } from '../activity-runtime/stage-probe';
import { ACCELERATOR_ENV, type AcceleratorSettings, type AttemptRecord } from './accelerator';
import { lowerBound, type BenchResult } from './report';
import { loadLine } from './host-probe';
import type { SpeedTable } from './speed-table';

/** The README's job (its first command). */
export const README_JOB = ['--seconds', '10', '--scene', 'day', '--seed', '7'];
/** Issue 10: the README job within 1.25× of its model compute. */
export const MODEL_COMPUTE_TARGET = 1.25;
const DEFAULT_RUNS = 5;
/** Flags the tool sets itself: the table's pack, a fresh store, the output and its JSON summary. */
const OWN_FLAGS = ['--pack', '--store', '--out', '--json'];

export interface ModelComputeResult {
  /** Always false: real calls on this machine's CPU. */
  emulated: false;
  command: string;
  pack: string;
  cores: number;
  load: { before: string; after: string };
  table: SpeedTable;
  job: {
    jobId: string;
    frames: number;
    sha256: string;
    /** The job's activities, and how many of them reused stored work (0 on this tool's fresh store). */
    activities: { total: number; reused: number };
    /** The `vldm generate` process, start to exit (server start and pack load included). */
    commandSeconds: number;
    /** First activity scheduled → last completed, from the ledger's records. */
    spanSeconds: number;
  };
  lowerBound: BenchResult['lowerBound'];
  ratio: { span: number; command: number; target: number };
  /** Per stage: model calls, their time inside the job ÷ their uncontended time. */
  contention: Record<
    string,
    { calls: number; realSeconds: number; uncontendedSeconds: number; factor: number }
  >;
}

/** This machine's uncontended speed of each stage's model at the job's shapes. */
export async function measureSpeedTable(packDir: string, runs: number): Promise<SpeedTable> {
  const models = new ModelCache({ intraOpThreads: 1, modelThreads: 0 });
  try {
    const { summary, runtime } = await models.get(packDir);
    const roles: SpeedTable['roles'] = {};
    for (const stage of MEASURED_STAGES) {
      const { role, inputs } = stageProbe(summary, stage);
      const session = await runtime.session(role);
      const first = await session.run(inputs); // warm-up: first calls allocate
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await session.run(inputs);
        times.push(performance.now() - t0);
      }
      roles[role] = { ms: Math.round(median(times) * 10) / 10, outputShape: [...first.shape] };
    }
    return {
      source: `this machine's CPU, one call alone (1 intra-op thread, inline), median of ${runs} at the job's shapes`,
      roles,
    };
  } finally {
    await models.close();
  }
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Per stage: how much longer the job's calls took than the table's uncontended time for them. */
export function contention(records: readonly AttemptRecord[]): ModelComputeResult['contention'] {
  const by: ModelComputeResult['contention'] = {};
  for (const r of records) {
    if (r.outcome !== 'completed' || r.calls === 0) continue;
    const s = (by[stageOfActivity(r.activityType)] ??= {
      calls: 0,
      realSeconds: 0,
      uncontendedSeconds: 0,
      factor: 0,
    });
    s.calls += r.calls;
    s.realSeconds += r.realMs / 1000;
    s.uncontendedSeconds += r.busyMs / 1000;
  }
  for (const s of Object.values(by)) {
    s.factor = round(s.realSeconds / s.uncontendedSeconds, 3);
    s.realSeconds = round(s.realSeconds, 3);
    s.uncontendedSeconds = round(s.uncontendedSeconds, 3);
  }
  return by;
}

function readLedger(file: string): AttemptRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as AttemptRecord);
}

/** Runs `node bin/vldm.js <args>`; stdout is returned, stderr (the job's progress lines) passed on. */
function runVldm(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot(), 'bin', 'vldm.js'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

export async function measureModelCompute(opts: {
  runs: number;
  pack: string;
  generateArgs: string[];
  log: (line: string) => void;
}): Promise<ModelComputeResult> {
  for (const a of opts.generateArgs)
    if (OWN_FLAGS.includes(a.split('=')[0]))
      throw new UserError(`${a} is set by this tool (it sets ${OWN_FLAGS.join(', ')} itself)`);
  const packDir = path.resolve(opts.pack);
  const cores = os.availableParallelism();
  const before = loadLine();
  opts.log(`measuring this machine's uncontended call speeds (${before})`);
  const table = await measureSpeedTable(packDir, opts.runs);
  for (const [role, s] of Object.entries(table.roles))
    opts.log(`  ${role}: ${s.ms} ms per call of output ${s.outputShape.join('×')}`);

  const work = mkdtempSync(path.join(os.tmpdir(), 'vldm-model-compute-'));
  const ownState = !opts.generateArgs.some((a) => a.split('=')[0] === '--state-dir');
  const stateArgs = ownState ? ['--state-dir', path.join(work, 'state')] : [];
  const traceFile = path.join(work, 'ledger.jsonl');
  const ledger: AcceleratorSettings = { slots: 1, table, dilation: 1, traceFile, hold: false };
  const args = [
    'generate',
    ...opts.generateArgs,
    ...stateArgs,
    '--pack',
    packDir,
    '--store',
    path.join(work, 'artifacts'),
    '--out',
    path.join(work, 'out.mp4'),
    '--json',
  ];
  const command = `vldm ${['generate', ...opts.generateArgs].join(' ')}`;
  opts.log(`running ${command} with the call ledger on`);
  try {
    const t0 = performance.now();
    const run = await runVldm(args, { ...process.env, [ACCELERATOR_ENV]: JSON.stringify(ledger) });
    const commandSeconds = (performance.now() - t0) / 1000;
    if (run.code !== 0) throw new Error(`${command} exited with ${run.code}`);
    const summary = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as {
      jobId: string;
      frames: number;
      sha256: string;
      activities: { total: number; reused: number };
    };
    const records = readLedger(traceFile).filter(
      (r) => r.workflowId === summary.jobId || r.workflowId.startsWith(`${summary.jobId}/`),
    );
    if (records.length === 0)
      throw new Error(`the call ledger ${traceFile} has no records of ${summary.jobId}`);
    const spanSeconds =
      (Math.max(...records.map((r) => r.completedMs)) - Math.min(...records.map((r) => r.scheduledMs))) /
      1000;
    const bound = lowerBound(records, cores);
    return {
      emulated: false,
      command,
      pack: packDir,
      cores,
      load: { before, after: loadLine() },
      table,
      job: {
        jobId: summary.jobId,
        frames: summary.frames,
        sha256: summary.sha256,
        activities: summary.activities,
        commandSeconds: round(commandSeconds),
        spanSeconds: round(spanSeconds),
      },
      lowerBound: bound,
      ratio: {
        span: round(spanSeconds / bound.seconds, 3),
        command: round(commandSeconds / bound.seconds, 3),
        target: MODEL_COMPUTE_TARGET,
      },
      contention: contention(records),
    };
  } finally {
    if (ownState) await runVldm(['dev', 'down', ...stateArgs], process.env).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

export function formatModelCompute(r: ModelComputeResult): string {
  const b = r.lowerBound;
  return [
    `${r.command} against its model compute on ${r.cores} cores (real CPU calls, not emulated)`,
    `  speed table: ${r.table.source}`,
    ...Object.entries(r.table.roles).map(
      ([role, s]) => `    ${role}: ${s.ms} ms per ${s.outputShape.join('×')}`,
    ),
    `  job ${r.job.jobId}: ${r.job.frames} frames, ${r.job.activities.total} activities (${r.job.activities.reused} reused), sha256 ${r.job.sha256}`,
    `  wall: ${r.job.commandSeconds} s the command, ${r.job.spanSeconds} s first activity scheduled → last completed`,
    `  model compute (lower bound): ${b.seconds} s (${b.bound}: chain ${b.chainSeconds} s + tail ${b.tailSeconds} s; model calls ${b.slotSeconds} s / ${r.cores} cores = ${b.perSlotSeconds} s)`,
    `  ratio ${r.ratio.span} (span), ${r.ratio.command} (command); target ≤ ${r.ratio.target}`,
    `  calls inside the job ÷ alone: ${Object.entries(r.contention)
      .map(([stage, c]) => `${stage} ${c.factor} (${c.calls} calls)`)
      .join(', ')}`,
    `  ${r.load.before} before, ${r.load.after} after`,
  ].join('\n');
}

function parseArgs(argv: string[]): { runs: number; pack: string; json: boolean; generateArgs: string[] } {
  const out = { runs: DEFAULT_RUNS, pack: defaultPack(), json: false, generateArgs: README_JOB };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.generateArgs = argv.slice(i + 1);
      break;
    } else if (a === '--json') out.json = true;
    else if (a === '--runs') out.runs = parseInteger('--runs', argv[++i] ?? '', 1, 1000);
    else if (a === '--pack') {
      const v = argv[++i];
      if (!v) throw new UserError('--pack needs a folder');
      out.pack = v;
    } else
      throw new UserError(
        `unknown argument ${quote(a)} (allowed: --runs N, --pack dir, --json, then -- and vldm generate's flags)`,
      );
  }
  return out;
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`model-compute: ${(err as Error).message}\n`);
    return 2;
  }
  const result = await measureModelCompute({ ...args, log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(
    args.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatModelCompute(result)}\n`,
  );
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(
        `model-compute: ${err instanceof UserError ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`,
      );
      process.exit(err instanceof UserError ? 2 : 1);
    },
  );
}
