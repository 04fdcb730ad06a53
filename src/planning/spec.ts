/**
 * The job spec: what a person asks for, compiled once at the edge (CLI, workflow start) into a fully
 * resolved spec that the rest of the code trusts. Stages, like the Temporal SDK's worker options:
 * 1. JobSpecInput (all optional, as typed) → 2. ResolvedSpec (defaults applied, checked; its content
 * fields name the job) → 3. JobSpec (job id and init image key joined, everything checked). The plan
 * (src/planning/plan.ts) is the fourth stage. Pure; imported by workflows.
 */
import { JOB_ID_PATTERN } from '../common/names';
import { quote } from '../common/quote';
import { UserError } from '../common/errors';
import { initImageRefProblems, type InitImageRef } from './init-image';
import type { JobFleet } from '../common/fleet';

/** What a person may pass (CLI flags, config file, `vldm submit`). */
export interface JobSpecInput {
  /** Video length in seconds. @default 10 */
  seconds?: number;
  /** Frames per second of the output. @default the pack's `video.fps` */
  fps?: number;
  /** Lighting label, one of the pack's labels (`day`/`night` for the driving packs). @default "day" */
  scene?: string;
  /** Traffic label, one of the pack's labels (`clear`/`crowded`). @default "clear" */
  traffic?: string;
  /** Seed of every random draw in the job (a non-negative 32-bit integer). @default 0 */
  seed?: number;
  /** Job name: a readable prefix of the job id. @default "<scene>-<seed>" */
  name?: string;
  /** Explicit job id (otherwise derived from the spec, so the same spec is the same job). */
  jobId?: string;
  /** Model pack location as the workers see it (folder path). */
  pack?: string;
  /** Wall-clock deadline (RFC 3339 date-time with a zone), read by the scaler; not in the past at submit. */
  deadline?: string;
  /**
   * The video's first frame: an image already uploaded to the artifact store (the CLI does it from
   * `--init-image`). Only its key and sha256 travel in the spec, never its bytes.
   */
  initImage?: InitImageRef;
}

/** Defaults, in one place. */
export const SPEC_DEFAULTS = {
  seconds: 10,
  scene: 'day',
  traffic: 'clear',
  seed: 0,
} as const;

/**
 * Longest video one job may ask for: 60 minutes (86,400 frames at 24 fps). Long jobs run their chain
 * in chapters, so every history stays inside Temporal's limits (`vldm plan` shows the estimates).
 */
export const MAX_SECONDS = 3600;

/** A validated, fully resolved job spec. Everything in it is checked. */
export interface JobSpec {
  jobId: string;
  name: string;
  seconds: number;
  fps: number;
  scene: string;
  traffic: string;
  seed: number;
  pack: string;
  deadline?: string;
  initImage?: InitImageRef;
  /**
   * The store and pack the job was submitted with; every worker compares them with its own before it
   * runs a task (src/worker/fleet.ts). Absent in jobs submitted before it existed: served as before.
   * Not a content field: it names neither the job id nor any artifact key.
   */
  fleet?: JobFleet;
}

function isInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x);
}

/** Job names become workflow ids and artifact prefixes: lowercase letters, digits and dashes. */
export function normaliseName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
}

/** What compiling a spec knows of the pack (the CLI loads it first; the workers check again with theirs). */
export interface SpecContext {
  labels: string[];
  packFps: number;
  pack: string;
  /**
   * A digest of the spec used to derive a default job id (computed by the caller, who has a hash
   * function; workflows have none).
   */
  specHash?: string;
}

/**
 * Stage 2 of compilation: the input with every default applied, and what is wrong with the parts
 * that do not involve the job id. Its content fields name the job, so the edge hashes them into the
 * job id before the last stage; nothing downstream uses a ResolvedSpec.
 */
export interface ResolvedSpec {
  seconds: number;
  fps: number;
  scene: string;
  traffic: string;
  seed: number;
  /** The normalised name ("" when the given name had no letters or digits). */
  name: string;
  pack: string;
  deadline?: string;
  /** Problems found so far, in the order a person reads the flags. */
  problems: string[];
}

/** Stage 1 → 2: apply the defaults and check everything that does not need the job id. */
export function resolveSpec(input: JobSpecInput, ctx: SpecContext): ResolvedSpec {
  const problems: string[] = [];
  const seconds = input.seconds ?? SPEC_DEFAULTS.seconds;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_SECONDS) {
    problems.push(`seconds must be a number in (0, ${MAX_SECONDS}], got ${String(input.seconds)}`);
  }
  const fps = input.fps ?? ctx.packFps;
  if (!isInt(fps) || fps < 1 || fps > 120)
    problems.push(`fps must be an integer in [1, 120], got ${String(input.fps)}`);
  else if (fps !== ctx.packFps) {
    problems.push(
      `fps must equal the model pack's frame rate ${ctx.packFps} (16× interpolation of its keyframes), got ${fps}`,
    );
  }
  if (isInt(fps) && typeof seconds === 'number' && Number.isFinite(seconds)) {
    const frames = seconds * fps;
    if (Math.abs(frames - Math.round(frames)) > 1e-9) {
      problems.push(`seconds × fps must be a whole number of frames, got ${seconds} × ${fps} = ${frames}`);
    } else if (Math.round(frames) < 2) problems.push(`the video must have at least 2 frames, got ${frames}`);
  }
  const seed = input.seed ?? SPEC_DEFAULTS.seed;
  if (!isInt(seed) || seed < 0 || seed > 0xffffffff) {
    problems.push(`seed must be an integer in [0, 4294967295], got ${String(input.seed)}`);
  }
  const scene: string = input.scene ?? SPEC_DEFAULTS.scene;
  const traffic: string = input.traffic ?? SPEC_DEFAULTS.traffic;
  const lightLabels: string[] = ctx.labels.filter((l) => l === 'day' || l === 'night');
  const trafficLabels: string[] = ctx.labels.filter((l) => l === 'clear' || l === 'crowded');
  if (!ctx.labels.includes(scene) || !lightLabels.includes(scene)) {
    problems.push(
      `scene must be one of ${lightLabels.join(', ') || '(the pack has no scene labels)'}, got "${scene}"`,
    );
  }
  if (!ctx.labels.includes(traffic) || !trafficLabels.includes(traffic)) {
    problems.push(
      `traffic must be one of ${trafficLabels.join(', ') || '(the pack has no traffic labels)'}, got "${traffic}"`,
    );
  }
  const name = normaliseName(input.name ?? `${scene}-${seed}`);
  if (input.name !== undefined && name.length === 0) {
    problems.push(`name must contain letters or digits, got "${input.name}"`);
  }
  return {
    seconds,
    fps,
    scene,
    traffic,
    seed,
    name,
    pack: ctx.pack,
    ...(input.deadline !== undefined ? { deadline: input.deadline } : {}),
    problems,
  };
}

/** RFC 3339 `date-time`: full date, `T` (or a space), time, optional fraction, and `Z` or an offset. */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Epoch milliseconds of an RFC 3339 date-time, or undefined for anything else: `Date.parse` reads
 * "1" as 2001 and "hello 2020" as a date, and rolls 2024-02-30 over into March, so it is not used.
 * Every field is range-checked, including the days of the month in leap and common years.
 */
export function rfc3339Millis(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  if (days === undefined || d < 1 || d > days || h > 23 || mi > 59 || s > 59) return undefined;
  const offH = m[10] === undefined ? 0 : Number(m[10]);
  const offM = m[11] === undefined ? 0 : Number(m[11]);
  if (offH > 23 || offM > 59) return undefined;
  const sign = m[9] === '-' ? -1 : 1;
  const frac = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  return Date.UTC(y, mo - 1, d, h, mi, s, frac) - sign * (offH * 60 + offM) * 60_000;
}

/** The job id a spec gets when none is given: its name and the first 10 hex digits of its hash. */
export function defaultJobId(name: string, specHash: string): string {
  return `${name || 'job'}-${specHash.slice(0, 10)}`;
}

/**
 * Stage 3: join the job id (given, or derived from `specHash`) and the init image's reference to a
 * resolved input, check them, and throw every problem of every stage in one message.
 */
export function finishSpec(
  resolved: ResolvedSpec,
  id: { jobId?: string; specHash?: string; initImage?: InitImageRef; fleet?: JobFleet },
): JobSpec {
  const problems = [...resolved.problems];
  let jobId = id.jobId;
  if (jobId !== undefined) {
    if (!JOB_ID_PATTERN.test(jobId)) {
      problems.push(
        `job id must match ${JOB_ID_PATTERN} (lowercase letters, digits, dashes; ≤ 63 chars), got "${jobId}"`,
      );
    }
  } else {
    jobId = id.specHash ? defaultJobId(resolved.name, id.specHash) : undefined;
    if (!jobId) problems.push('a job id or a spec hash is required');
  }
  if (resolved.deadline !== undefined && rfc3339Millis(resolved.deadline) === undefined) {
    problems.push(
      `deadline must be an RFC 3339 date-time with a time zone, e.g. 2026-12-31T18:00:00Z, got ${quote(resolved.deadline)}`,
    );
  }
  if (id.initImage !== undefined && jobId !== undefined && JOB_ID_PATTERN.test(jobId))
    problems.push(...initImageRefProblems(id.initImage, jobId));
  if (!resolved.pack) problems.push('a model pack location is required');
  if (problems.length > 0) throw new UserError(`invalid job spec: ${problems.join('; ')}`);
  return {
    jobId: jobId as string,
    name: resolved.name,
    seconds: resolved.seconds,
    fps: resolved.fps,
    scene: resolved.scene,
    traffic: resolved.traffic,
    seed: resolved.seed,
    pack: resolved.pack,
    ...(resolved.deadline !== undefined ? { deadline: resolved.deadline } : {}),
    ...(id.initImage !== undefined
      ? { initImage: { key: id.initImage.key, sha256: id.initImage.sha256 } }
      : {}),
    ...(id.fleet !== undefined
      ? { fleet: { ...(id.fleet.store !== undefined ? { store: id.fleet.store } : {}), pack: id.fleet.pack } }
      : {}),
  };
}

/**
 * All stages at once, for a spec whose job id is given or whose hash the caller has: the workers'
 * check of a submitted spec against the pack they load, and tests.
 */
export function compileSpec(input: JobSpecInput, ctx: SpecContext): JobSpec {
  return finishSpec(resolveSpec(input, ctx), {
    ...(input.jobId !== undefined ? { jobId: input.jobId } : {}),
    ...(ctx.specHash !== undefined ? { specHash: ctx.specHash } : {}),
    ...(input.initImage !== undefined ? { initImage: input.initImage } : {}),
  });
}

/**
 * The fields that define the video's content: same fields, same bytes. Hashed into the job id. The
 * init image counts by its sha256 (a spec without one hashes exactly as before init images existed).
 */
export function contentFields(
  spec: Pick<JobSpec, 'seconds' | 'fps' | 'scene' | 'traffic' | 'seed'> & {
    initImage?: Pick<InitImageRef, 'sha256'>;
  },
): Record<string, unknown> {
  return {
    seconds: spec.seconds,
    fps: spec.fps,
    scene: spec.scene,
    traffic: spec.traffic,
    seed: spec.seed,
    ...(spec.initImage ? { initImage: spec.initImage.sha256 } : {}),
  };
}
