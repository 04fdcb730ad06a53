/**
 * Speed tables of the benchmark's EMULATED accelerators (docs/performance.md): how long one model call
 * of each role takes on the accelerator being emulated. A call's emulated duration scales with the
 * number of output elements it computes, from one measured case per role. The default table is the
 * reference pack's CPU speeds (models/reference/EVAL.md, onnxruntime-node, 1 thread) times a stated
 * GPU factor, not a GPU measurement; `--speed-table <file>` replaces it with measured numbers.
 * Pure: no I/O (the CLI reads the file and hands its text to `parseSpeedTable`).
 */
import { ROLES, type Role } from '../models/contract';
import { UserError } from '../common/errors';
import { quote } from '../common/quote';

/** One role's speed: `ms` per call that computes an output of `outputShape`. */
export interface RoleSpeed {
  ms: number;
  outputShape: number[];
}

export interface SpeedTable {
  /** Where the numbers come from, printed with every result. */
  source: string;
  roles: Partial<Record<Role, RoleSpeed>>;
}

/**
 * The stated factor from one CPU core to one accelerator for the default table: an assumption (a
 * datacentre GPU runs these small convolutional models ~20× faster than one core of this machine),
 * not a measurement. Replace the table with measured numbers where a GPU is available.
 */
export const DEFAULT_GPU_FACTOR = 0.05;

/** models/reference/EVAL.md, "Speed": ms per call on this machine's CPU, 1 intra-op thread. */
const REFERENCE_CPU_SPEEDS: Record<Role, RoleSpeed> = {
  encoder: { ms: 17.7, outputShape: [1, 8, 4, 16, 32] },
  decoder: { ms: 161.4, outputShape: [1, 16, 3, 64, 128] },
  keyframe: { ms: 50.3, outputShape: [1, 8, 4, 16, 32] },
  keyframe_image: { ms: 20.8, outputShape: [1, 8, 4, 16, 32] },
  interpolation: { ms: 61.3, outputShape: [1, 9, 4, 16, 32] },
  upsampler: { ms: 1270.1, outputShape: [1, 8, 3, 128, 256] },
  upsampler_image: { ms: 351.8, outputShape: [1, 8, 3, 128, 256] },
};

/** The reference pack's CPU speeds × `gpuFactor`. */
export function defaultSpeedTable(gpuFactor = DEFAULT_GPU_FACTOR): SpeedTable {
  if (!(gpuFactor > 0) || !Number.isFinite(gpuFactor))
    throw new UserError(`--gpu-factor must be a number > 0, got ${quote(String(gpuFactor))}`);
  const roles = Object.fromEntries(
    ROLES.map((r) => [
      r,
      { ms: REFERENCE_CPU_SPEEDS[r].ms * gpuFactor, outputShape: REFERENCE_CPU_SPEEDS[r].outputShape },
    ]),
  ) as Record<Role, RoleSpeed>;
  return {
    source: `reference pack CPU speeds (models/reference/EVAL.md) × GPU factor ${gpuFactor} (stated, not measured)`,
    roles,
  };
}

function elements(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * A table from JSON text: `{"source": "…", "roles": {"upsampler": {"ms": 40, "outputShape": [1,8,3,128,256]}, …}}`.
 * Every role the pipeline calls must be present (the optional image-only roles may be left out).
 */
export function parseSpeedTable(text: string, file: string): SpeedTable {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UserError(`speed table ${quote(file)} is not JSON: ${(err as Error).message}`);
  }
  const fail = (why: string): never => {
    throw new UserError(`speed table ${quote(file)}: ${why}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('must be a JSON object');
  const obj = raw as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (k !== 'source' && k !== 'roles') fail(`unknown key ${quote(k)}`);
  if (typeof obj.source !== 'string' || obj.source.trim() === '')
    fail('"source" must say where the numbers come from');
  const roles = obj.roles;
  if (typeof roles !== 'object' || roles === null || Array.isArray(roles)) fail('"roles" must be an object');
  const out: Partial<Record<Role, RoleSpeed>> = {};
  for (const [role, v] of Object.entries(roles as Record<string, unknown>)) {
    if (!(ROLES as readonly string[]).includes(role))
      fail(`unknown role ${quote(role)} (roles: ${ROLES.join(', ')})`);
    const s = v as Partial<RoleSpeed> | null;
    if (
      typeof s !== 'object' ||
      s === null ||
      typeof s.ms !== 'number' ||
      !(s.ms > 0) ||
      !Number.isFinite(s.ms)
    )
      fail(`${role}.ms must be a number > 0`);
    const shape = (s as RoleSpeed).outputShape;
    if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 1))
      fail(`${role}.outputShape must be a list of integers ≥ 1`);
    out[role as Role] = { ms: (s as RoleSpeed).ms, outputShape: [...shape] };
  }
  for (const role of ['encoder', 'decoder', 'keyframe', 'interpolation', 'upsampler'] as const)
    if (!out[role]) fail(`has no ${role} (every role the pipeline calls needs a speed)`);
  return { source: `${obj.source as string} (from ${file})`, roles: out };
}

/**
 * The emulated duration in ms of one call of `role` whose output has `outputShape`, stretched by
 * `dilation` (the factor that keeps this machine's host work from being the bottleneck).
 */
export function emulatedCallMs(
  table: SpeedTable,
  role: Role,
  outputShape: readonly number[],
  dilation: number,
): number {
  const speed = table.roles[role];
  if (!speed) throw new UserError(`the speed table has no ${role} (source: ${table.source})`);
  return (speed.ms * elements(outputShape) * dilation) / elements(speed.outputShape);
}
