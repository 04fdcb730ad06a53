/**
 * Loading a model pack from a folder: the manifest, each role's file with its checksum, and each
 * file's contract metadata, all checked before any worker runs a model. The same checks, step by
 * step, back `vldm models verify`, which reports every problem instead of stopping at the first.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

import { ContractError, UserError } from '../common/errors';
import { readUserText } from '../host/files';
import { MANIFEST_FILE, ROLES, type ModelMeta, type RequiredRole, type Role } from './contract';
import { checkManifest, type PackManifest } from './manifest';
import { checkMetaAgainstManifest, parseModelMeta } from './meta';
import { OnnxFormatError, readOnnxFileMetadata } from './onnx-proto';

export interface ModelPack {
  /** Absolute path of the pack folder. */
  root: string;
  manifest: PackManifest;
  /** sha256 over the manifest's model hashes (see packDigest): identifies the pack in artifact keys. */
  digest: string;
  /** Absolute path of each role's ONNX file. */
  files: Partial<Record<Role, string>> & Record<RequiredRole, string>;
  /** Each role's parsed ONNX metadata. */
  meta: Partial<Record<Role, ModelMeta>> & Record<RequiredRole, ModelMeta>;
}

/** The roles a manifest lists, in contract order. */
export function packRoles(manifest: PackManifest): Role[] {
  return ROLES.filter((role) => manifest.models[role] !== undefined);
}

/**
 * The pack's digest: sha256 of the lines `<role> <sha256>\n` for every role the manifest lists, in
 * contract role order. It changes exactly when a model file changes or a role is added or removed.
 */
export function packDigest(manifest: PackManifest): string {
  const hash = createHash('sha256');
  for (const role of packRoles(manifest)) hash.update(`${role} ${manifest.models[role]?.sha256}\n`);
  return hash.digest('hex');
}

/** sha256 of a file's bytes, streamed so a large model never sits in memory. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** `role (file)`: how problems name a model file. */
export function roleLabel(role: Role, file: string): string {
  return `${role} (${file})`;
}

/** Resolve a location to the pack folder: the folder itself, or a path to its vldm-pack.json. */
export async function resolvePackRoot(location: string): Promise<string> {
  const abs = resolve(location);
  let info;
  try {
    info = await stat(abs);
  } catch {
    throw new ContractError(
      `model pack ${location} does not exist (a pack is a folder holding ${MANIFEST_FILE} and its ONNX files)`,
    );
  }
  if (info.isDirectory()) return abs;
  if (basename(abs) === MANIFEST_FILE) return dirname(abs);
  throw new ContractError(`model pack ${location} is a file; give the folder that holds ${MANIFEST_FILE}`);
}

/** Largest manifest read: it is a page of JSON. */
const MAX_MANIFEST_BYTES = 1 << 20;

/** Read and check `<root>/vldm-pack.json`. Problems are complete sentences naming the manifest. */
export async function readPackManifest(
  root: string,
): Promise<{ manifest?: PackManifest; problems: string[] }> {
  const path = resolve(root, MANIFEST_FILE);
  let text: string;
  try {
    // A regular file of bounded size only: a FIFO as the manifest used to hang the CLI.
    text = readUserText(path, { what: `model pack manifest`, maxBytes: MAX_MANIFEST_BYTES });
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    const why = / does not exist$/.test(err.message)
      ? `has no ${MANIFEST_FILE}`
      : `cannot be read: ${err.message}`;
    return {
      problems: [
        `model pack ${root} ${why} (a pack is a folder holding ${MANIFEST_FILE} and its ONNX files)`,
      ],
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { problems: [`${path} is not valid JSON: ${(err as Error).message}`] };
  }
  return checkManifest(json, path);
}

/** Check that a model file exists and has the manifest's checksum. Returns problems (empty when fine). */
export async function checkModelFile(path: string, expectedSha256: string): Promise<string[]> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return [`${path} is not a file`];
  } catch {
    return [`file is missing (expected at ${path})`];
  }
  const actual = await sha256File(path);
  if (actual !== expectedSha256) {
    return [
      `sha256 is ${actual}, the manifest says ${expectedSha256} (the file changed or the manifest is stale)`,
    ];
  }
  return [];
}

/** Read a model file's metadata and check it against the contract and the manifest. */
export async function checkModelMeta(
  role: Role,
  path: string,
  manifest: PackManifest,
): Promise<{ meta?: ModelMeta; raw?: Record<string, string>; problems: string[]; warnings: string[] }> {
  let raw: Record<string, string>;
  try {
    raw = await readOnnxFileMetadata(path);
  } catch (err) {
    if (err instanceof OnnxFormatError)
      return { problems: [`not an ONNX model (${err.message})`], warnings: [] };
    throw err;
  }
  const { meta, problems } = parseModelMeta(raw, role);
  if (!meta) return { raw, problems, warnings: [] };
  const against = checkMetaAgainstManifest(role, meta, manifest);
  return { meta, raw, problems: against.problems, warnings: against.warnings };
}

/**
 * Load a pack from a folder: parse the manifest, check every file's existence and sha256, read and
 * check every file's ONNX metadata. Throws a ContractError naming the pack and listing every problem
 * (one per line, each naming the role and file). Does not load the models into onnxruntime: that is
 * ModelRuntime's job, when a worker first needs a role.
 */
export async function loadPack(location: string): Promise<ModelPack> {
  const root = await resolvePackRoot(location);
  const fail = (problems: string[]): never => {
    throw new ContractError(
      `model pack ${root} breaks the model contract:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  };
  const { manifest, problems: manifestProblems } = await readPackManifest(root);
  if (!manifest) return fail(manifestProblems);

  const problems: string[] = [];
  const files: Partial<Record<Role, string>> = {};
  const meta: Partial<Record<Role, ModelMeta>> = {};
  for (const role of packRoles(manifest)) {
    const entry = manifest.models[role];
    if (!entry) continue;
    const path = resolve(root, entry.file);
    const label = roleLabel(role, entry.file);
    const fileProblems = await checkModelFile(path, entry.sha256);
    if (fileProblems.length > 0) {
      problems.push(...fileProblems.map((p) => `${label}: ${p}`));
      continue;
    }
    const checked = await checkModelMeta(role, path, manifest);
    problems.push(...checked.problems.map((p) => `${label}: ${p}`));
    files[role] = path;
    if (checked.meta) meta[role] = checked.meta;
  }
  if (problems.length > 0) return fail(problems);
  return {
    root,
    manifest,
    digest: packDigest(manifest),
    files: files as ModelPack['files'],
    meta: meta as ModelPack['meta'],
  };
}
