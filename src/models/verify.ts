/**
 * `vldm models verify <pack>`: check a model pack against the contract end to end and report every
 * problem, each naming the role, the file and exactly what is wrong. Beyond what loadPack checks
 * (manifest, checksums, metadata), it loads each model in onnxruntime, compares the graph's input and
 * output names, types and static sizes with the contract, and runs each model once on small seeded
 * inputs at the manifest's sizes ("shape probe"): output shape, finite values, decoder range.
 */

import { seededRandom } from '../common/random';
import { resolve } from 'node:path';

import {
  CONTRACT_VERSION,
  INTERPOLATION_RATE,
  ROLE_SPECS,
  UPSCALE_FACTOR,
  evalDim,
  formatShape,
  interpolationFrames,
  metaSymbols,
  type ModelMeta,
  type Role,
} from './contract';
import { roleFeeds, type Fill } from './inputs';
import type { PackManifest } from './manifest';
import {
  checkModelFile,
  checkModelMeta,
  packDigest,
  packRoles,
  readPackManifest,
  resolvePackRoot,
  roleLabel,
} from './pack';
import { ModelCallError, ModelSession, type RuntimeOptions, type TensorData } from './runtime';

/** One run of a model on probe inputs. */
export interface ProbeResult {
  /** What the probe exercises, e.g. "T=8, 2 context frames". */
  name: string;
  inputs: Record<string, number[]>;
  outputShape?: number[];
  /** Wall time of the call in milliseconds. */
  ms?: number;
  min?: number;
  max?: number;
  finite?: boolean;
}

/** Per role: each check is true (passed), false (failed) or null (not reached). */
export interface RoleReport {
  role: Role;
  /** The file as the manifest names it. */
  file: string;
  sha256Ok: boolean | null;
  loads: boolean | null;
  /** Milliseconds onnxruntime took to create the session. */
  loadMs?: number;
  metadataOk: boolean | null;
  /** Input and output names, types and static sizes as the contract says. */
  ioOk: boolean | null;
  probeOk: boolean | null;
  probes: ProbeResult[];
  /** `role (file): what is wrong`, one per line. */
  problems: string[];
  warnings: string[];
}

export interface VerifyReport {
  /** Pack location as given. */
  pack: string;
  contract: number;
  name?: string;
  digest?: string;
  ok: boolean;
  /** Problems that belong to no single role (manifest, missing pack). */
  problems: string[];
  roles: RoleReport[];
}

export interface VerifyOptions extends RuntimeOptions {
  /** Skip the shape probes (load and metadata checks only). @default false */
  skipProbes?: boolean;
}

function tensor(shape: number[], fill: (i: number) => number): TensorData {
  const data = new Float32Array(shape.reduce((n, d) => n * d, 1));
  for (let i = 0; i < data.length; i++) data[i] = fill(i);
  return { shape, data };
}

function normal(shape: number[], seed: number, scale = 1): TensorData {
  const u = seededRandom(seed);
  // Box–Muller; 1 − u avoids log(0).
  return tensor(shape, () => scale * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()));
}

function uniform(shape: number[], seed: number): TensorData {
  const u = seededRandom(seed);
  return tensor(shape, () => 2 * u() - 1);
}

function constant(shape: number[], value: number): TensorData {
  return tensor(shape, () => value);
}

/** mask [B,T,1,h,w] with 1 on the known frames. */
function frameMask(shape: number[], known: (t: number) => boolean): TensorData {
  const [, , , h, w] = shape;
  return tensor(shape, (i) => (known(Math.floor(i / (h * w))) ? 1 : 0));
}

/** context = m ∘ z: the clean latents on known frames, zeros elsewhere. */
function masked(z: TensorData, known: (t: number) => boolean): TensorData {
  const [, , c, h, w] = z.shape;
  const plane = h * w;
  return tensor(z.shape, (i) => {
    const t = Math.floor(i / (c * plane));
    return (known(t) ? 1 : 0) * z.data[i];
  });
}

interface Probe {
  name: string;
  inputs: Record<string, TensorData>;
  /** Range the output must stay in, when the contract fixes one. */
  range?: [number, number];
}

/** Float32 rounding allowed at the ends of a fixed output range (a few ulps of 1). */
const RANGE_TOLERANCE = 1e-6;

/** Mid-schedule time: a probe only needs a valid `t`. */
const PROBE_TIME = 500;

/** Inputs at the manifest's sizes, batch 1, for each way the pipeline calls the role. */
export function probesFor(role: Role, manifest: PackManifest, meta: ModelMeta | undefined): Probe[] {
  const { latent, base, windows, labels } = manifest;
  const c = meta?.latentChannels ?? latent.channels;
  const L = meta?.labels?.length ?? labels.length;
  const scale = meta?.latentScale ?? latent.scale;
  const latentSizes = { B: 1, c, h: latent.height, w: latent.width, L };
  const t: Fill = (shape) => constant(shape, PROBE_TIME).data;
  const firstLabel: Fill = (shape) => tensor(shape, (i) => (i === 0 ? 1 : 0)).data;
  const unconditional: Fill = (shape) => constant(shape, 0).data;
  const denoiser = (
    T: number,
    known: (i: number) => boolean,
    labelRow: Fill,
    seed: number,
    extra: { rate?: Fill } = {},
  ) =>
    roleFeeds(
      role,
      { ...latentSizes, T },
      {
        x: (s) => normal(s, seed).data,
        t,
        context: (s) => masked(normal(s, seed + 1), known).data,
        mask: (s) => frameMask(s, known).data,
        labels: labelRow,
        ...extra,
      },
    );
  switch (role) {
    case 'encoder':
      return [
        {
          name: 'T=2 frames at base size',
          inputs: roleFeeds(
            role,
            { B: 1, T: 2, H: base.height, W: base.width },
            { pixels: (s) => uniform(s, 1).data },
          ),
        },
      ];
    case 'decoder':
      // The host feeds z / latent_scale, with z the sampler's unit-variance scaled latents.
      return [
        {
          name: `T=${windows.decode.frames} latents (z / latent_scale)`,
          inputs: roleFeeds(
            role,
            { ...latentSizes, T: windows.decode.frames },
            { latents: (s) => normal(s, 2, 1 / scale).data },
          ),
          range: [-1, 1],
        },
      ];
    case 'keyframe':
    case 'keyframe_image': {
      const T = windows.keyframe.frames;
      return [
        {
          name: `T=${T}, 2 context frames, label ${labels[0] ?? '(none)'}`,
          inputs: denoiser(T, (i) => i < 2, firstLabel, 3),
        },
        {
          name: 'T=1, all-zero mask, unconditional labels (first frame)',
          inputs: denoiser(1, () => false, unconditional, 5),
        },
      ];
    }
    case 'interpolation': {
      const T = interpolationFrames(windows.interpolation.intervals);
      return [0, 1].map((rate) => ({
        name: `T=${T}, keyframes every 4th frame, rate ${rate} (${rate === 0 ? 'T→4T' : '4T→16T'})`,
        inputs: denoiser(T, (i) => i % INTERPOLATION_RATE === 0, firstLabel, 7 + rate, {
          rate: (s) => constant(s, rate).data,
        }),
      }));
    }
    case 'upsampler':
    case 'upsampler_image': {
      const { frames, tileHeight, tileWidth } = windows.upscale;
      const H = UPSCALE_FACTOR * tileHeight;
      const W = UPSCALE_FACTOR * tileWidth;
      return [
        {
          name: `T=${frames}, one ${tileHeight}×${tileWidth} low-res tile`,
          inputs: roleFeeds(
            role,
            { B: 1, T: frames, H, W },
            {
              x: (s) => normal(s, 9).data,
              t,
              lowres: (s) => uniform(s, 10).data,
              noiseLevel: (s) => constant(s, manifest.sampling.upsampler.noiseAugmentation).data,
            },
          ),
        },
      ];
    }
  }
}

/** Compare the session's declared inputs and outputs with the contract. */
export function checkSessionIo(session: ModelSession, meta: ModelMeta | undefined): string[] {
  const problems: string[] = [];
  const spec = ROLE_SPECS[session.role];
  const want = spec.inputs.map((i) => i.name);
  for (const name of want) {
    if (!session.inputNames.includes(name)) {
      problems.push(
        `input ${name} is missing (the model's inputs are ${session.inputNames.join(', ')}; the contract's are ${want.join(', ')})`,
      );
    }
  }
  for (const name of session.inputNames) {
    if (!want.includes(name))
      problems.push(
        `has input ${name}, which the contract does not define for ${spec.role} (allowed: ${want.join(', ')})`,
      );
  }
  const outputs = session.outputNames;
  if (outputs.length !== 1 || outputs[0] !== spec.output.name) {
    problems.push(
      `outputs are ${outputs.join(', ') || '(none)'}, the contract says exactly one: ${spec.output.name}`,
    );
  }
  const symbols = meta ? metaSymbols(meta) : {};
  const declared = [
    ...session.inputMetadata.map((m) => ({
      m,
      tensor: spec.inputs.find((i) => i.name === m.name),
      kind: 'input',
    })),
    ...session.outputMetadata.map((m) => ({
      m,
      tensor: m.name === spec.output.name ? spec.output : undefined,
      kind: 'output',
    })),
  ];
  for (const { m, tensor: ts, kind } of declared) {
    if (!ts) continue;
    if (!m.isTensor) {
      problems.push(`${kind} ${m.name} is not a tensor`);
      continue;
    }
    if (m.type !== 'float32') problems.push(`${kind} ${m.name} is ${m.type}, the contract requires float32`);
    // An empty shape means the graph does not declare one; the probe still checks it.
    if (m.shape.length === 0) continue;
    if (m.shape.length !== ts.dims.length) {
      problems.push(
        `${kind} ${m.name} is declared ${formatShape(m.shape)}, the contract says rank ${ts.dims.length} ${formatShape(ts.dims)}`,
      );
      continue;
    }
    m.shape.forEach((d, axis) => {
      if (typeof d !== 'number') return;
      const expected = evalDim(ts.dims[axis], symbols);
      if (expected !== undefined && expected !== d) {
        problems.push(
          `${kind} ${m.name} is declared ${formatShape(m.shape)}: dim ${axis} (${ts.dims[axis]}) is fixed to ${d}, the contract and metadata say ${expected}`,
        );
      } else if (expected === undefined && ['B', 'T'].includes(ts.dims[axis])) {
        problems.push(
          `${kind} ${m.name} is declared ${formatShape(m.shape)}: dim ${axis} (${ts.dims[axis]}) must be dynamic, it is fixed to ${d}`,
        );
      }
    });
  }
  return problems;
}

async function runProbe(
  session: ModelSession,
  probe: Probe,
): Promise<{ result: ProbeResult; problems: string[] }> {
  const result: ProbeResult = {
    name: probe.name,
    inputs: Object.fromEntries(Object.entries(probe.inputs).map(([n, t]) => [n, t.shape])),
  };
  const started = performance.now();
  let out: TensorData;
  try {
    out = await session.run(probe.inputs);
  } catch (err) {
    const reasons =
      err instanceof ModelCallError ? err.problems : [`onnxruntime failed: ${(err as Error).message}`];
    return { result, problems: reasons.map((r) => `probe ${probe.name}: ${r}`) };
  }
  result.ms = performance.now() - started;
  result.outputShape = out.shape;
  let min = Infinity;
  let max = -Infinity;
  let bad = 0;
  for (const v of out.data) {
    if (!Number.isFinite(v)) bad++;
    else {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  result.finite = bad === 0;
  if (Number.isFinite(min)) [result.min, result.max] = [min, max];
  const problems: string[] = [];
  if (bad > 0)
    problems.push(`probe ${probe.name}: ${bad} of ${out.data.length} output values are NaN or infinite`);
  if (
    probe.range &&
    Number.isFinite(min) &&
    (min < probe.range[0] - RANGE_TOLERANCE || max > probe.range[1] + RANGE_TOLERANCE)
  ) {
    problems.push(
      `probe ${probe.name}: output values span [${min.toPrecision(4)}, ${max.toPrecision(4)}], the contract requires [${probe.range[0]}, ${probe.range[1]}]`,
    );
  }
  return { result, problems };
}

async function verifyRole(
  role: Role,
  root: string,
  manifest: PackManifest,
  opts: VerifyOptions,
): Promise<RoleReport> {
  const entry = manifest.models[role];
  if (!entry) throw new Error(`verifyRole: ${role} is not in the manifest`);
  const label = roleLabel(role, entry.file);
  const report: RoleReport = {
    role,
    file: entry.file,
    sha256Ok: null,
    loads: null,
    metadataOk: null,
    ioOk: null,
    probeOk: null,
    probes: [],
    problems: [],
    warnings: [],
  };
  const add = (list: string[], lines: string[]) => list.push(...lines.map((l) => `${label}: ${l}`));
  const path = resolve(root, entry.file);

  const fileProblems = await checkModelFile(path, entry.sha256);
  add(report.problems, fileProblems);
  if (fileProblems.some((p) => p.startsWith('file is missing') || p.endsWith('is not a file'))) return report;
  report.sha256Ok = fileProblems.length === 0;

  const checked = await checkModelMeta(role, path, manifest);
  add(report.problems, checked.problems);
  add(report.warnings, checked.warnings);
  report.metadataOk = checked.problems.length === 0;
  // Not a ModelProto at all: onnxruntime would only repeat that.
  if (checked.raw === undefined) return report;

  let session: ModelSession;
  try {
    session = await ModelSession.open(role, path, checked.meta, opts, label);
  } catch (err) {
    report.loads = false;
    report.problems.push((err as Error).message);
    return report;
  }
  try {
    report.loads = true;
    report.loadMs = session.loadMs;
    const ioProblems = checkSessionIo(session, checked.meta);
    add(report.problems, ioProblems);
    report.ioOk = ioProblems.length === 0;
    // Probes are sized from the metadata and need the contract's inputs: with either wrong they would
    // only restate the fault already reported.
    if (opts.skipProbes || !report.ioOk || !report.metadataOk) return report;
    let probeOk = true;
    for (const probe of probesFor(role, manifest, checked.meta)) {
      const { result, problems } = await runProbe(session, probe);
      report.probes.push(result);
      add(report.problems, problems);
      if (problems.length > 0) probeOk = false;
    }
    report.probeOk = probeOk;
    return report;
  } finally {
    await session.close();
  }
}

/** Check a pack folder against the contract and report everything found; never throws for a bad pack. */
export async function verifyPack(location: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = {
    pack: location,
    contract: CONTRACT_VERSION,
    ok: false,
    problems: [],
    roles: [],
  };
  let root: string;
  try {
    root = await resolvePackRoot(location);
  } catch (err) {
    report.problems.push((err as Error).message);
    return report;
  }
  const { manifest, problems } = await readPackManifest(root);
  report.problems.push(...problems);
  if (!manifest) return report;
  report.name = manifest.name;
  report.digest = packDigest(manifest);
  // One role at a time: the machine may be serving jobs, and load times are measured.
  for (const role of packRoles(manifest)) report.roles.push(await verifyRole(role, root, manifest, opts));
  report.ok = report.problems.length === 0 && report.roles.every((r) => r.problems.length === 0);
  return report;
}

function mark(v: boolean | null): string {
  return v === null ? '-' : v ? 'ok' : 'FAIL';
}

/** The report as text for a person: one line per role, then every problem and warning. */
export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  const named = report.name ? ` (${report.name})` : '';
  lines.push(
    `model pack ${report.pack}${named}, contract v${report.contract}${report.digest ? `, digest ${report.digest.slice(0, 16)}` : ''}`,
  );
  for (const r of report.roles) {
    const load = r.loadMs !== undefined ? ` ${r.loadMs.toFixed(0)} ms` : '';
    const probe = r.probes
      .filter((p) => p.outputShape)
      .map((p) => `${formatShape(p.outputShape ?? [])} ${p.ms?.toFixed(1)} ms`)
      .join('; ');
    lines.push(
      `  ${r.role.padEnd(17)}${r.file.padEnd(24)}sha256 ${mark(r.sha256Ok)}  metadata ${mark(r.metadataOk)}  ` +
        `loads ${mark(r.loads)}${load}  io ${mark(r.ioOk)}  probe ${mark(r.probeOk)}${probe ? ` ${probe}` : ''}`,
    );
  }
  const problems = [...report.problems, ...report.roles.flatMap((r) => r.problems)];
  const warnings = report.roles.flatMap((r) => r.warnings);
  if (problems.length > 0) {
    lines.push(`${problems.length} problem${problems.length === 1 ? '' : 's'}:`);
    for (const p of problems) lines.push(`  - ${p.replace(/\n/g, '\n    ')}`);
  }
  if (warnings.length > 0) {
    lines.push(`${warnings.length} warning${warnings.length === 1 ? '' : 's'}:`);
    for (const w of warnings) lines.push(`  - ${w}`);
  }
  lines.push(
    report.ok
      ? `OK: the pack follows model contract v${report.contract}`
      : `FAILED: the pack does not follow model contract v${report.contract}`,
  );
  return lines.join('\n');
}
