/**
 * The host-work probe (docs/performance.md, "Host work per activity"):
 *
 *   node dist/src/bench/host-probe.js [--runs 7] [--pack models/bench] [--noise-threads n] [--model-threads n] [--json]
 *
 * Runs the real activity code of one interpolation window, one decode window and one upscale tile of a
 * 10 s job at the pack's shapes (the bench pack: the contract models exported at the reference pack's
 * shapes), and the encode stage of one segment's clip (its tiles blended and piped through ffmpeg), in
 * this one process against a folder store in a temp dir, `--runs` times each after a warm-up, and
 * prints each phase's median in milliseconds (src/observability/host-phases.ts): model calls apart,
 * then noise, store reads, tensor decoding, checksums, sampler math, blending, tensor encoding (pixel8,
 * or RGB24 frames for ffmpeg), store writes and the rest ("other": wall − every phase; in the encode
 * stage mostly waiting for ffmpeg). Host work = wall − model calls: what issue 10 wants at ≤ 100 ms per
 * window or tile so that a GPU is not kept waiting. The load average is printed beside every result,
 * since this machine is shared. Input artifacts hold seeded stand-in values of their real shapes.
 *
 * Checkpoints are off (VLDM_CHECKPOINT_EVERY is set past the steps): on a GPU these activities take far
 * less than the second the "auto" rule waits for before its first save, so a GPU pod never writes one.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { createActivities, inActivity, type ActivityDeps } from '../worker/in-process';
import type { FrameSource, StageContext } from '../common/boundary';
import { UserError } from '../common/errors';
import { connectEventBus } from '../events';
import { LocalArtifactStore, type ArtifactStore } from '../storage';
import { ModelCache } from '../activity-runtime/model-cache';
import { CHECKPOINT_EVERY_ENV } from '../activity-runtime/checkpoints';
import { encodeLatents, encodePixels } from '../activity-runtime/artifact-format';
import { checkpointPrefix } from '../activity-runtime/stage-runner';
import { segName, stageKey } from '../activity-runtime/keys';
import { interpolationOutput, coveringSpans } from '../planning/render-plan';
import { gaussian } from '../sampling';
import { seededRandom } from '../common/random';
import { compileJob } from '../cli/edge';
import { parseInteger } from '../config/values';
import { MAX_NOISE_THREADS, noiseThreads, setNoiseThreads } from '../activity-runtime/noise-threads';
import { MAX_MODEL_THREADS, defaultModelThreads } from '../models/model-threads';
import {
  HOST_PHASES,
  PhaseRecorder,
  cpuMs,
  phaseAsync,
  recordPhases,
  type HostPhase,
} from '../observability/host-phases';
import { BENCH_PACK } from '../cli/commands/bench';
import { median } from '../common/stats';

/** The job whose items are probed: the README's 10 s job (3 segments at the reference shapes). */
const PROBE_JOB = { seconds: '10', seed: '7', scene: 'day', traffic: 'clear', name: 'host-probe' };
const DEFAULT_RUNS = 7;

type Kind = 'interpolation' | 'decode' | 'upscale' | 'encode';
type Column = HostPhase | 'other' | 'wall' | 'host';
const COLUMNS: readonly Column[] = [...HOST_PHASES, 'other', 'host', 'wall'];
const KINDS: readonly Kind[] = ['interpolation', 'decode', 'upscale', 'encode'];

export interface ProbeResult {
  kind: Kind;
  /** What was run, at which shapes. */
  item: string;
  runs: number;
  /** Medians of wall time in milliseconds: every phase, `other`, `wall`, and `host` = wall − model. */
  median: Record<Column, number>;
  /**
   * The same of the process's CPU time (all threads): what the work costs apart from waiting for a
   * core on a loaded machine.
   */
  cpuMedian: Record<Column, number>;
  /** sha256 of the output artifact (every run wrote the same bytes, checked): compare across code changes. */
  outputSha256: string;
  /** Every run's host work, ms, in run order. */
  hostRuns: number[];
}

/** The store with its reads and writes marked as phases (the checksums inside mark themselves). */
function timedStore(store: ArtifactStore): ArtifactStore {
  const read =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    (...a: A) =>
      phaseAsync('read', () => f(...a));
  const write =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    (...a: A) =>
      phaseAsync('write', () => f(...a));
  return {
    description: store.description,
    identity: store.identity,
    get: read(store.get.bind(store)),
    getVerified: read(store.getVerified.bind(store)),
    stat: read(store.stat.bind(store)),
    exists: read(store.exists.bind(store)),
    list: read(store.list.bind(store)),
    getToFile: read(store.getToFile.bind(store)),
    put: write(store.put.bind(store)),
    putFile: write(store.putFile.bind(store)),
    delete: write(store.delete.bind(store)),
  };
}

/** One run's columns: the phases, the rest of `total` ("other"), the total, and host = total − model. */
function columns(phases: Record<HostPhase, number>, total: number): Record<Column, number> {
  const marked = HOST_PHASES.reduce((a, p) => a + phases[p], 0);
  return { ...phases, other: total - marked, wall: total, host: total - phases.model };
}

/** Seeded stand-in values for an input artifact (their values do not change the host work). */
function values(n: number, stage: string, start: number, clip: boolean): Float32Array {
  const v = gaussian({ seed: 7, stage, segment: 0, window: start, tile: 0, step: 0 }, n);
  if (clip) for (let i = 0; i < n; i++) v[i] = Math.max(-1, Math.min(1, 0.5 * v[i]));
  return v;
}

/** `modelThreads`: threads per model session (src/models/model-threads.ts), 0 (the default) none. */
export async function probeHostWork(opts: {
  runs: number;
  pack: string;
  modelThreads?: number;
}): Promise<ProbeResult[]> {
  process.env[CHECKPOINT_EVERY_ENV] = String(1_000_000);
  const packDir = path.resolve(opts.pack);
  const { spec, plan } = await compileJob(PROBE_JOB, packDir);
  const root = await mkdtemp(path.join(os.tmpdir(), 'vldm-host-probe-'));
  const models = new ModelCache({ intraOpThreads: 1, modelThreads: opts.modelThreads ?? 0 });
  const events = await connectEventBus(undefined);
  try {
    const { summary: pack } = await models.get(packDir);
    const store = timedStore(new LocalArtifactStore(path.join(root, 'store')));
    const deps: ActivityDeps = { store, events, models, scratchDir: root };
    const base: StageContext = { spec, pack, labels: plan.labels };
    const { channels: c, height: h, width: w } = pack.latent;
    const { height: Hb, width: Wb } = pack.base;
    // A middle segment, window and tile: all sizes are the pack's full ones there.
    const seg = plan.segments[Math.floor(plan.segments.length / 2)];
    const put = async (stage: string, span: { start: number; end: number }, pixels: boolean) => {
      const shape = pixels ? [span.end - span.start, 3, Hb, Wb] : [span.end - span.start, c, h, w];
      const data = values(
        shape.reduce((a, b) => a * b, 1),
        stage,
        span.start,
        pixels,
      );
      const key = stageKey(spec.jobId, `probe-${stage}`, `at${span.start}`, { span });
      await store.put(key, pixels ? encodePixels({ shape, data }) : encodeLatents({ shape, data }));
      return { key, start: span.start, end: span.end };
    };

    const interpolationWindow = seg.interpolation.filter((x) => x.pass === 1)[0];
    const quarter = await Promise.all(
      seg.interpolation.filter((x) => x.pass === 0).map((x) => put('quarter', interpolationOutput(x), false)),
    );
    const interpolationSources: FrameSource[] = coveringSpans(
      quarter,
      interpolationWindow.start,
      interpolationWindow.start + interpolationWindow.intervals,
    ).map((s) => ({ ...s, axis: 'quarter' }));

    const decodeWindow = seg.decode[Math.floor(seg.decode.length / 2)];
    const latentSpans = plan.segments.flatMap((s) =>
      s.interpolation.filter((x) => x.pass === 1).map(interpolationOutput),
    );
    const decodeSources: FrameSource[] = await Promise.all(
      coveringSpans(latentSpans, decodeWindow.decoded.start, decodeWindow.decoded.end - 1).map(async (s) => ({
        ...(await put('latents', s, false)),
        axis: 'frame' as const,
      })),
    );

    const tile = seg.upscale[Math.floor(seg.upscale.length / 2)];
    const decodedSpans = plan.segments.flatMap((s) => s.decode.map((d) => d.own));
    const tileSources: FrameSource[] = await Promise.all(
      coveringSpans(decodedSpans, tile.t.start, tile.t.end - 1).map(async (s) => ({
        ...(await put('decoded', s, true)),
        axis: 'frame' as const,
      })),
    );

    // The encode stage: the middle segment's clip, blended from every tile covering it, into ffmpeg.
    const clip = seg.render?.clip ?? seg.frames;
    const allTiles = plan.segments.flatMap((s) => s.upscale);
    const clipTiles = await Promise.all(
      coveringSpans(
        allTiles.map((t) => ({ start: t.t.start, end: t.t.end, t })),
        clip.start,
        clip.end - 1,
      ).map(async ({ t }) => {
        const shape = [t.t.end - t.t.start, 3, 4 * (t.y.end - t.y.start), 4 * (t.x.end - t.x.start)];
        const random = seededRandom(t.index);
        const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * random() - 1);
        const key = stageKey(spec.jobId, 'probe-tiles', `t${t.index}`, { index: t.index });
        await store.put(key, encodePixels({ shape, data }));
        return { tile: t, key };
      }),
    );
    const activities = createActivities(deps);
    const items: Record<Kind, { item: string; run: () => Promise<{ key: string }> }> = {
      interpolation: {
        item: `${segName(seg.index)} pass 1 window @${interpolationWindow.start}: [${4 * interpolationWindow.intervals + 1}, ${c}, ${h}, ${w}], ${pack.sampling.interpolation.steps} steps, ${interpolationSources.length} sources`,
        run: () =>
          inActivity('interpolate', () =>
            activities.interpolate({
              ...base,
              segment: seg.index,
              window: interpolationWindow,
              sources: interpolationSources,
            }),
          ),
      },
      decode: {
        item: `frames ${decodeWindow.own.start}–${decodeWindow.own.end - 1} (decoded ${decodeWindow.decoded.start}–${decodeWindow.decoded.end - 1}): [${decodeWindow.decoded.end - decodeWindow.decoded.start}, ${c}, ${h}, ${w}] → 3×${4 * h}×${4 * w}, ${decodeSources.length} sources`,
        run: () =>
          inActivity('decode', () =>
            activities.decode({ ...base, segment: seg.index, window: decodeWindow, sources: decodeSources }),
          ),
      },
      upscale: {
        item: `tile ${tile.index}: [${tile.t.end - tile.t.start}, 3, ${4 * (tile.y.end - tile.y.start)}, ${4 * (tile.x.end - tile.x.start)}], ${pack.sampling.upsampler.steps} steps, ${tileSources.length} sources`,
        run: () =>
          inActivity('upscale', () =>
            activities.upscale({ ...base, segment: seg.index, tile, sources: tileSources }),
          ),
      },
      encode: {
        item: `${segName(seg.index)} clip frames ${clip.start}–${clip.end - 1} (${clip.end - clip.start} frames of 3×${pack.video.height}×${pack.video.width}) from ${clipTiles.length} tiles, through ffmpeg`,
        run: () =>
          inActivity('encodeSegment', () =>
            activities.encodeSegment({ ...base, segment: { ...seg, frames: clip }, tiles: clipTiles }),
          ),
      },
    };

    const results: ProbeResult[] = [];
    for (const kind of KINDS) {
      const { item, run } = items[kind];
      let sha: string | undefined;
      const samples: Array<{ wall: Record<Column, number>; cpu: Record<Column, number> }> = [];
      // Run 0 warms up (opens the ONNX session, JIT); it is not counted.
      for (let r = 0; r <= opts.runs; r++) {
        const recorder = new PhaseRecorder();
        recordPhases(recorder);
        const started = performance.now();
        const cpuStarted = cpuMs();
        let out: { key: string };
        try {
          out = await run();
        } finally {
          recordPhases(undefined);
        }
        const wall = performance.now() - started;
        const cpu = cpuMs() - cpuStarted;
        const info = await store.stat(out.key);
        if (!info) throw new Error(`${kind} stored no output at ${out.key}`);
        if (sha !== undefined && info.sha256 !== sha)
          throw new Error(`${kind} wrote different bytes in run ${r} (${info.sha256}) than before (${sha})`);
        sha = info.sha256;
        // Removed so that the next run computes it again instead of reusing it.
        await store.delete(out.key);
        for (const a of await store.list(checkpointPrefix(out.key))) await store.delete(a.key);
        if (r === 0) continue;
        samples.push({ wall: columns(recorder.totals, wall), cpu: columns(recorder.cpu, cpu) });
      }
      const medians = (of: 'wall' | 'cpu') =>
        Object.fromEntries(COLUMNS.map((k) => [k, median(samples.map((s) => s[of][k]))])) as Record<
          Column,
          number
        >;
      results.push({
        kind,
        item,
        runs: opts.runs,
        median: medians('wall'),
        cpuMedian: medians('cpu'),
        outputSha256: sha ?? '',
        hostRuns: samples.map((s) => s.wall.host),
      });
    }
    return results;
  } finally {
    await models.close();
    await events.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** The machine's load, as `uptime` shows it. */
export function loadLine(): string {
  const [a, b, c] = os.loadavg().map((x) => x.toFixed(2));
  return `load average ${a}, ${b}, ${c} on ${os.cpus().length} cores`;
}

export function formatProbe(
  results: ProbeResult[],
  load: { before: string; after: string },
  threads: { noise: number; model: number },
): string {
  const row = (label: string, cells: (k: Column) => string) =>
    [label.padEnd(14), ...COLUMNS.map((k) => cells(k).padStart(9))].join('');
  const table = (title: string, of: 'median' | 'cpuMedian') => [
    title,
    row('activity', (k) => k),
    ...results.map((r) => row(r.kind, (k) => r[of][k].toFixed(1))),
  ];
  return [
    `host work per activity, median ms of ${results[0]?.runs ?? 0} runs (host = wall − model calls)`,
    `noise threads: ${threads.noise}; model threads per session: ${threads.model}`,
    `before: ${load.before}`,
    ...table('wall time', 'median'),
    ...table('CPU time of the process (all threads)', 'cpuMedian'),
    ...results.map((r) => `  ${r.kind}: ${r.item}; output sha256 ${r.outputSha256.slice(0, 16)}`),
    `after: ${load.after}`,
  ].join('\n');
}

function parseArgs(argv: string[]): {
  runs: number;
  pack: string;
  json: boolean;
  noiseThreads: number;
  modelThreads: number;
} {
  const out = {
    runs: DEFAULT_RUNS,
    pack: BENCH_PACK,
    json: false,
    noiseThreads: noiseThreads(),
    modelThreads: defaultModelThreads(),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') out.json = true;
    else if (a === '--runs') out.runs = parseInteger('--runs', argv[++i] ?? '', 1, 1000);
    else if (a === '--noise-threads')
      out.noiseThreads = parseInteger('--noise-threads', argv[++i] ?? '', 0, MAX_NOISE_THREADS);
    else if (a === '--model-threads')
      out.modelThreads = parseInteger('--model-threads', argv[++i] ?? '', 0, MAX_MODEL_THREADS);
    else if (a === '--pack') {
      const v = argv[++i];
      if (!v) throw new UserError('--pack needs a folder');
      out.pack = v;
    } else
      throw new UserError(
        `unknown argument ${JSON.stringify(a)} (allowed: --runs N, --pack dir, --noise-threads N, --model-threads N, --json)`,
      );
  }
  return out;
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`host-probe: ${(err as Error).message}\n`);
    return 2;
  }
  setNoiseThreads(args.noiseThreads);
  const before = loadLine();
  const results = await probeHostWork(args);
  const after = loadLine();
  process.stdout.write(
    args.json
      ? `${JSON.stringify({ load: { before, after }, node: process.version, noiseThreads: args.noiseThreads, modelThreads: args.modelThreads, results }, null, 2)}\n`
      : `${formatProbe(results, { before, after }, { noise: args.noiseThreads, model: args.modelThreads })}\n`,
  );
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`host-probe: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(err instanceof UserError ? 2 : 1);
    },
  );
}
