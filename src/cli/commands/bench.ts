/**
 * `vldm bench [job flags] --gpus 8,32,64`: the orchestration at fleet scale on this machine, with
 * EMULATED accelerators (docs/performance.md). Starts its own Temporal dev server (and MinIO with
 * `--store minio`) in `<state dir>/bench`, on the dev ports + BENCH_PORT_SHIFT, so a running
 * `vldm generate` and its workers are not disturbed; then one run per G and schedule (src/bench/run.ts),
 * each printed as it ends and written to `<state dir>/bench/<run>/result.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../common/errors';
import { quote } from '../../common/quote';
import type { VldmConfig } from '../../config/config';
import { parseInteger } from '../../config/values';
import { DEV_DEFAULT_PORTS, devDown, devStatus, devUp, type DevServerPorts } from '../../dev/servers';
import { DEFAULTS, SEARCH_ATTRIBUTES } from '../../common/names';
import { readUserText } from '../../host/files';
import { compileJob, type JobFlags } from '../edge';
import { makeOut } from '../io';
import { runBench, type ChaosOptions } from '../../bench/run';
import { formatResult, type BenchResult } from '../../bench/report';
import {
  defaultSpeedTable,
  parseSpeedTable,
  DEFAULT_GPU_FACTOR,
  type SpeedTable,
} from '../../bench/speed-table';

/** The bench's servers listen on the dev ports shifted by this much (27233, 29000, …). */
export const BENCH_PORT_SHIFT = 20000;
/** The pack the bench runs unless `--pack` names another: the contract models at the reference shapes. */
export const BENCH_PACK = 'models/bench';
/**
 * Niceness of the GPU worker processes unless `--gpu-nice` says otherwise. On a cluster the
 * orchestration worker, the media worker and Temporal do not share CPUs with the GPU pods' host work;
 * on this machine's 2 cores they do, and a lower priority for the GPU workers keeps workflow tasks and
 * hand-overs from queueing behind noise and tensor I/O (docs/performance.md).
 */
export const DEFAULT_GPU_NICE = 10;
/** Most bench runs one command may ask for (G values × schedules). */
const MAX_RUNS = 12;

export interface BenchFlags extends JobFlags {
  pack?: string;
  gpus?: string;
  processes?: string;
  dilation?: string;
  gpuNice?: string;
  gpuFactor?: string;
  speedTable?: string;
  schedule?: string;
  benchStore?: string;
  kills?: string;
  killEvery?: string;
  killSeed?: string;
  json?: boolean;
}

const SCHEDULES = { dataflow: ['dataflow'], barrier: ['barrier'], both: ['dataflow', 'barrier'] } as const;

function positive(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(v > 0))
    throw new UserError(`${flag} must be a number > 0, got ${quote(raw)}`);
  return v;
}

export async function bench(opts: BenchFlags, cfg: VldmConfig): Promise<number> {
  const out = makeOut(Boolean(opts.json));
  // Every flag is checked before a server starts.
  const gpus = (opts.gpus ?? '8').split(',').map((g) => parseInteger('--gpus', g.trim(), 1, 1024));
  const schedule = opts.schedule ?? 'dataflow';
  if (!(schedule in SCHEDULES))
    throw new UserError(`--schedule must be dataflow, barrier or both, got ${quote(schedule)}`);
  const schedules = SCHEDULES[schedule as keyof typeof SCHEDULES];
  if (gpus.length * schedules.length > MAX_RUNS)
    throw new UserError(
      `at most ${MAX_RUNS} runs per command (--gpus × --schedule), got ${gpus.length * schedules.length}`,
    );
  const processes =
    opts.processes === undefined ? undefined : parseInteger('--processes', opts.processes, 1, 64);
  const dilation = positive('--dilation', opts.dilation, 1);
  const gpuNice = parseInteger('--gpu-nice', opts.gpuNice ?? String(DEFAULT_GPU_NICE), 0, 19);
  const storeKind = opts.benchStore ?? 'folder';
  if (storeKind !== 'folder' && storeKind !== 'minio')
    throw new UserError(`--bench-store must be folder or minio, got ${quote(storeKind)}`);
  let table: SpeedTable;
  if (opts.speedTable !== undefined) {
    if (opts.gpuFactor !== undefined)
      throw new UserError(
        '--gpu-factor applies to the default table only: give --speed-table or --gpu-factor',
      );
    table = parseSpeedTable(readUserText(opts.speedTable, { what: 'speed table' }), opts.speedTable);
  } else table = defaultSpeedTable(positive('--gpu-factor', opts.gpuFactor, DEFAULT_GPU_FACTOR));
  const chaos: ChaosOptions | undefined =
    opts.kills === undefined
      ? undefined
      : {
          kills: parseInteger('--kills', opts.kills, 1, 10_000),
          everyMs: positive('--kill-every', opts.killEvery, 8) * 1000,
          seed: parseInteger('--kill-seed', opts.killSeed ?? '1', 0, 2 ** 31 - 1),
        };
  const packDir = path.resolve(opts.pack ?? BENCH_PACK);
  const { spec, plan } = await compileJob(opts, packDir);

  const benchDir = path.resolve(cfg.stateDir, 'bench');
  const ports: DevServerPorts = Object.fromEntries(
    Object.entries(DEV_DEFAULT_PORTS).map(([k, p]) => [k, p + BENCH_PORT_SHIFT]),
  ) as unknown as DevServerPorts;
  const serverDir = path.join(benchDir, 'servers');
  const servers = await devUp({
    stateDir: serverDir,
    kinds: storeKind === 'minio' ? ['temporal', 'minio'] : ['temporal'],
    ports,
    searchAttributes: { ...SEARCH_ATTRIBUTES },
  });
  try {
    return await benchRuns(opts, out, {
      gpus,
      schedules,
      processes,
      dilation,
      gpuNice,
      noiseThreads: cfg.noiseThreads,
      modelThreads: cfg.modelThreads,
      table,
      spec,
      plan,
      benchDir,
      servers,
      serverDir,
      ...(chaos ? { chaos } : {}),
    });
  } finally {
    // The bench's servers are its own (its folder, its ports): they stop with it.
    await devDown({ stateDir: serverDir });
  }
}

async function benchRuns(
  opts: BenchFlags,
  out: ReturnType<typeof makeOut>,
  r: {
    gpus: number[];
    schedules: readonly ('dataflow' | 'barrier')[];
    processes: number | undefined;
    dilation: number;
    gpuNice: number;
    noiseThreads: number;
    modelThreads: number;
    table: SpeedTable;
    spec: Awaited<ReturnType<typeof compileJob>>['spec'];
    plan: Awaited<ReturnType<typeof compileJob>>['plan'];
    benchDir: string;
    servers: Awaited<ReturnType<typeof devUp>>;
    serverDir: string;
    chaos?: ChaosOptions;
  },
): Promise<number> {
  const { gpus, schedules, processes, dilation, gpuNice, table, spec, plan, benchDir, servers, serverDir } =
    r;
  const temporalPid = (await devStatus({ stateDir: serverDir })).find((s) => s.kind === 'temporal')?.pid;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const results: BenchResult[] = [];
  for (const g of gpus) {
    for (const sched of schedules) {
      const name = `${sched}-g${g}-${stamp}`.toLowerCase();
      const workDir = path.join(benchDir, 'runs', name);
      mkdirSync(workDir, { recursive: true });
      const minio = servers.minio;
      const store = minio ? `s3://vldm/bench` : path.join(benchDir, 'artifacts');
      const storeEnv: Record<string, string> = minio
        ? {
            VLDM_S3_ENDPOINT: minio.endpoint,
            AWS_ACCESS_KEY_ID: minio.accessKeyId,
            AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
            AWS_REGION: 'us-east-1',
          }
        : {};
      const result = await runBench({
        spec: { ...spec, jobId: `bench-${name}`.slice(0, 63).replace(/-+$/, '') },
        expectedFrames: plan.frames,
        width: plan.width,
        height: plan.height,
        gpus: g,
        processes: processes ?? Math.min(g, 4),
        dilation,
        gpuNice,
        noiseThreads: r.noiseThreads,
        modelThreads: r.modelThreads,
        table,
        schedule: sched,
        temporalAddress: servers.temporal!.address,
        namespace: DEFAULTS.namespace,
        store,
        storeEnv,
        ...(temporalPid ? { temporalPid } : {}),
        workDir,
        ...(r.chaos ? { chaos: r.chaos } : {}),
        log: (l) => out.info(l),
      });
      writeFileSync(path.join(workDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
      results.push(result);
      out.info(formatResult(result));
    }
  }
  if (opts.json) out.result({ emulated: true, runs: results });
  return 0;
}
