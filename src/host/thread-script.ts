/**
 * Where a worker_threads script is: the compiled `.js` beside the module that starts it, or, under
 * vitest (where that module is TypeScript source a thread cannot load), the same file in dist/
 * (`npm test` builds first). The noise threads and the model threads both start their scripts this way.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './paths';

/**
 * The script `file` (e.g. `noise-thread.js`) of the module in `moduleDir` (its `__dirname`), whose
 * folder under the repository root is `srcDir` (e.g. `src/activity-runtime`); undefined when neither exists.
 */
export function threadScript(moduleDir: string, srcDir: string, file: string): string | undefined {
  const beside = path.join(moduleDir, file);
  if (existsSync(beside)) return beside;
  const built = path.join(repoRoot(), 'dist', srcDir, file);
  return existsSync(built) ? built : undefined;
}
