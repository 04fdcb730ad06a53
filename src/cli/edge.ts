/**
 * Validation at the edge: job flags → a compiled JobSpec checked against the model pack, the init
 * image read and checked, and output paths checked for writability, all before any server is
 * contacted or any file is written.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors';
import {
  contentFields,
  defaultJobId,
  finishSpec,
  resolveSpec,
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
  if (!/^-?\d+(\.\d+)?$/.test(v.trim())) throw new UserError(`--${flag} must be a number, got "${v}"`);
  return Number(v);
}

export function jobInputFromFlags(f: JobFlags): JobSpecInput {
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
): Promise<CompiledJob> {
  const input = jobInputFromFlags(flags);
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
  });
  return { spec, pack, plan: planJob(spec, pack), ...(image ? { initImage: image } : {}) };
}

/** The output file must be creatable: its folder exists and is writable, and it is not a folder. */
export function checkOutputPath(out: string | undefined): string {
  if (!out) throw new UserError('--out is required (where to write the MP4)');
  const abs = path.resolve(out);
  if (existsSync(abs) && statSync(abs).isDirectory())
    throw new UserError(`--out ${abs} is a folder; give a file path such as ${path.join(abs, 'video.mp4')}`);
  const dir = path.dirname(abs);
  if (!existsSync(dir)) throw new UserError(`--out: folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new UserError(`--out: ${dir} is a file, not a folder`);
  try {
    accessSync(dir, constants.W_OK);
    if (existsSync(abs)) accessSync(abs, constants.W_OK);
  } catch {
    throw new UserError(`--out: ${existsSync(abs) ? abs : dir} is not writable`);
  }
  if (path.extname(abs).toLowerCase() !== '.mp4')
    throw new UserError(`--out must end in .mp4, got ${path.basename(abs)}`);
  return abs;
}
