/**
 * Locates the external programs vldm runs on this machine (Temporal CLI, MinIO, nats-server, ffmpeg).
 * infra/setup.sh builds the Go-built ones into the git-ignored `<repo>/.tools/bin`, so that folder is
 * searched before PATH; a missing program is a user error that names the command that installs it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../common/errors';

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

const PACKAGE_NAME = 'vldm';
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

let cachedRoot: string | undefined;

/**
 * The repository root: the nearest folder above this module holding vldm's package.json. Walking up
 * (instead of a fixed `../..`) makes it the same from src/ under vitest and from dist/src/ when built.
 * Falls back to the current directory when vldm is not run from its repository.
 */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: unknown };
        if (pkg.name === PACKAGE_NAME) return (cachedRoot = dir);
      } catch {
        // An unreadable package.json above us is not ours; keep walking.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return (cachedRoot = process.cwd());
    dir = parent;
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
