/**
 * Where vldm's own files are on this host: the repository (or installed package) root, and the state
 * folder that holds local artifacts, server data and logs. Configuration, security, the worker and the
 * dev servers all need these, so they live here rather than with any one of them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGE_NAME = 'vldm';

/** Environment variable overriding the state folder. */
export const STATE_DIR_ENV = 'VLDM_STATE_DIR';

/** `$VLDM_STATE_DIR`, else `.vldm` in the given folder (the current directory by default). */
export function defaultStateDir(cwd: string = process.cwd()): string {
  const fromEnv = process.env[STATE_DIR_ENV];
  return path.resolve(cwd, fromEnv ? fromEnv : '.vldm');
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
