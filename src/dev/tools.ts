/**
 * Locates the external programs vldm runs on this machine (Temporal CLI, MinIO, nats-server, ffmpeg).
 * infra/setup.sh builds the Go-built ones into the git-ignored `<repo>/.tools/bin`, so that folder is
 * searched before PATH; a missing program is a user error that names the command that installs it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../common/errors';
import { repoRoot } from '../host/paths';

/** Programs vldm starts, by the name of their executable. */
export const TOOL_NAMES = {
  temporal: 'temporal',
  minio: 'minio',
  natsServer: 'nats-server',
  ffmpeg: 'ffmpeg',
  ffprobe: 'ffprobe',
} as const;

/** Environment variable naming an extra folder searched first (container images put tools elsewhere). */
export const TOOLS_BIN_ENV = 'VLDM_TOOLS_BIN';

const SYSTEM_SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin'];

/** A program vldm needs is not installed where it looks. */
export class MissingToolError extends UserError {
  override name = 'MissingToolError';
  constructor(
    readonly tool: string,
    searched: string[],
  ) {
    super(`${tool} was not found (searched ${searched.join(', ')}): run infra/setup.sh to install it`);
  }
}

/** `<repo>/.tools/bin`, where infra/setup.sh installs the Go-built tools (GOBIN). */
export function toolsBinDir(): string {
  return path.join(repoRoot(), '.tools', 'bin');
}

/** Folders searched for a tool, in order: $VLDM_TOOLS_BIN, `<repo>/.tools/bin`, PATH, then the sbin folders. */
export function toolSearchPath(): string[] {
  const dirs: string[] = [];
  const extra = process.env[TOOLS_BIN_ENV];
  if (extra) dirs.push(extra);
  dirs.push(toolsBinDir());
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) if (d) dirs.push(d);
  // Debian installs nats-server in /usr/sbin, which is not on an ordinary user's PATH.
  for (const d of SYSTEM_SBIN_DIRS) if (!dirs.includes(d)) dirs.push(d);
  return dirs;
}

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of an executable, or undefined when it is in none of {@link toolSearchPath}. */
export function findTool(name: string): string | undefined {
  for (const dir of toolSearchPath()) {
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return path.resolve(candidate);
  }
  return undefined;
}

/** Like {@link findTool}, but a missing tool throws a {@link MissingToolError} naming infra/setup.sh. */
export function requireTool(name: string): string {
  const found = findTool(name);
  if (found === undefined) {
    const searched = [process.env[TOOLS_BIN_ENV], toolsBinDir(), 'PATH', ...SYSTEM_SBIN_DIRS].filter(
      (d): d is string => !!d,
    );
    throw new MissingToolError(name, searched);
  }
  return found;
}
