/**
 * Validation at the edge: job flags → a compiled JobSpec checked against the model pack, the init
 * image read and checked, and output paths checked for writability, all before any server is
 * contacted or any file is written.
 */
import { closeSync, existsSync, openSync, statSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { UserError } from '../common/errors';
import { JOB_ID_PATTERN } from '../common/names';
import { escapeControls, quote } from '../common/quote';
import {
  contentFields,
  defaultJobId,
  finishSpec,
  resolveSpec,
  rfc3339Millis,
  type JobSpec,
  type JobSpecInput,
} from '../planning/spec';
import { planJob, type JobPlan } from '../planning/plan';
import type { PackSummary } from '../planning/pack-summary';
import { loadPack } from '../models/pack';
import { summarisePack } from '../activity-runtime/model-cache';
import { digestOf } from '../activity-runtime/keys';
import { initImageKey } from '../planning/init-image';
import { readInitImage, type InitImage } from '../media/init-image';

/** Flags shared by generate, submit and plan (strings as commander gives them). */
export interface JobFlags {
  seconds?: string;
  fps?: string;
  scene?: string;
  traffic?: string;
  seed?: string;
  name?: string;
  jobId?: string;
  deadline?: string;
  /** PNG or JPEG file: the video's first frame. */
  initImage?: string;
}

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d{1,15}(\.\d{1,15})?$/.test(v.trim()))
    throw new UserError(`--${flag} must be a number, got ${quote(v)}`);
  return Number(v);
}

/** Longest text flag value accepted (names, labels, deadlines are short). */
export const MAX_TEXT_FLAG_CHARS = 256;

/**
 * A text flag is checked before anything echoes it: no control characters (a newline would forge a
 * second `vldm:` line, an ANSI escape would drive the terminal) and a bounded length. Messages further
 * in (the spec's) may then show the value as it is.
 */
function text(flag: string, v: string, max = MAX_TEXT_FLAG_CHARS): string {
  if (escapeControls(v) !== v || [...v].length > max)
    throw new UserError(
      `--${flag} must be at most ${max} characters without control characters, got ${quote(v)}`,
    );
  return v;
}

/** A job id given on the command line (`--job-id`, `status <jobId>`, `fetch <jobId>`, …). */
export function checkJobIdArg(id: string | undefined, what = 'job id'): string {
  if (!id || !JOB_ID_PATTERN.test(id))
    throw new UserError(
      `${what} must match ${JOB_ID_PATTERN} (lowercase letters, digits, dashes; ≤ 63 chars), got ${quote(id ?? '')}`,
    );
  return id;
}

export function jobInputFromFlags(f: JobFlags): JobSpecInput {
  for (const [flag, v] of [
    ['scene', f.scene],
    ['traffic', f.traffic],
    ['name', f.name],
    ['deadline', f.deadline],
  ] as const)
    if (v !== undefined) text(flag, v);
  if (f.jobId !== undefined) checkJobIdArg(f.jobId);
  return {
    ...(f.seconds !== undefined ? { seconds: num('seconds', f.seconds) } : {}),
    ...(f.fps !== undefined ? { fps: num('fps', f.fps) } : {}),
    ...(f.seed !== undefined ? { seed: num('seed', f.seed) } : {}),
    ...(f.scene !== undefined ? { scene: f.scene } : {}),
    ...(f.traffic !== undefined ? { traffic: f.traffic } : {}),
    ...(f.name !== undefined ? { name: f.name } : {}),
    ...(f.jobId !== undefined ? { jobId: f.jobId } : {}),
    ...(f.deadline !== undefined ? { deadline: f.deadline } : {}),
  };
}

export async function loadPackSummary(location: string): Promise<PackSummary> {
  return summarisePack(await loadPack(location), location);
}

export interface CompiledJob {
  spec: JobSpec;
  pack: PackSummary;
  plan: JobPlan;
  /** The checked `--init-image`, to upload under `spec.initImage.key` before the job starts. */
  initImage?: InitImage;
}

/**
 * Compile and plan a job against its pack; the job id hashes the content fields and the pack digest.
 * `workerPack` is where the workers find the same pack when it differs from this machine's path (a
 * laptop submitting to a cluster); the workers check that its digest equals the one planned here.
 */
export async function compileJob(
  flags: JobFlags,
  packLocation: string,
  workerPack?: string,
  /** Identity of the store the job's artifacts go to (`ArtifactStore.identity`); stamped into the spec. */
  store?: string,
): Promise<CompiledJob> {
  const input = jobInputFromFlags(flags);
  // The spec checks the deadline's form; only here, at submit, is there a clock to refuse a past one.
  const due = input.deadline === undefined ? undefined : rfc3339Millis(input.deadline);
  if (due !== undefined && due <= Date.now())
    throw new UserError(
      `--deadline ${quote(input.deadline)} is in the past (now is ${new Date().toISOString()})`,
    );
  const local = await loadPackSummary(packLocation);
  const pack = workerPack ? { ...local, location: workerPack } : local;
  const image = flags.initImage !== undefined ? await readInitImage(flags.initImage, pack.base) : undefined;
  const resolved = resolveSpec(input, { labels: pack.labels, packFps: pack.video.fps, pack: pack.location });
  // The pack's model files *and* its sampling/window defaults decide the bytes, so both name the job,
  // with the content fields (the image counts by its sha256).
  const specHash = digestOf({
    content: contentFields({ ...resolved, ...(image ? { initImage: { sha256: image.sha256 } } : {}) }),
    pack: pack.digest,
    sampling: pack.sampling,
    windows: pack.windows,
  });
  // The image's key lives under the job's prefix, so it is known only once the job id is.
  const jobId = input.jobId ?? defaultJobId(resolved.name, specHash);
  const spec = finishSpec(resolved, {
    jobId,
    ...(image
      ? { initImage: { key: initImageKey(jobId, image.sha256, image.format), sha256: image.sha256 } }
      : {}),
    // Which workers may serve it (src/common/fleet.ts): this store, and the pack checked here.
    fleet: { ...(store !== undefined ? { store } : {}), pack: pack.digest },
  });
  return { spec, pack, plan: planJob(spec, pack), ...(image ? { initImage: image } : {}) };
}

/**
 * The output file must be creatable: its folder exists and is a folder, it is not a folder itself,
 * it is named `<something>.mp4`, and a file can really be made there (a temporary file is created and
 * removed at once: checking access alone passes for root on read-only or virtual folders like /proc).
 */
export function checkOutputPath(out: string | undefined): string {
  if (!out) throw new UserError('--out is required (where to write the MP4)');
  text('out', out, 4096); // a path: as long as the system allows, but one line
  const abs = path.resolve(out);
  const shown = quote(abs);
  if (existsSync(abs) && statSync(abs).isDirectory())
    throw new UserError(
      `--out ${shown} is a folder; give a file path such as ${quote(path.join(abs, 'video.mp4'))}`,
    );
  const base = path.basename(abs);
  if (base.toLowerCase() === '.mp4')
    throw new UserError(
      `--out ${shown} has no file name before .mp4; give e.g. ${quote(path.join(path.dirname(abs), 'video.mp4'))}`,
    );
  if (path.extname(abs).toLowerCase() !== '.mp4')
    throw new UserError(`--out must end in .mp4, got ${quote(base)}`);
  const dir = path.dirname(abs);
  if (!existsSync(dir)) throw new UserError(`--out: folder ${quote(dir)} does not exist`);
  if (!statSync(dir).isDirectory()) throw new UserError(`--out: ${quote(dir)} is a file, not a folder`);
  if (existsSync(abs) && !statSync(abs).isFile())
    throw new UserError(`--out ${shown} exists and is not a regular file`);
  const probe = path.join(dir, `.vldm-write-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
    // An existing file must be writable too (opened for writing, not truncated).
    if (existsSync(abs)) closeSync(openSync(abs, 'r+'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new UserError(`--out: cannot write a file in ${quote(existsSync(abs) ? abs : dir)} (${code})`);
  }
  return abs;
}
