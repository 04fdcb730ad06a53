/** vldm's version: the `version` of its package.json (read once, for `vldm --version`). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../host/paths';

export function vldmVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
