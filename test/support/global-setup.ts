/**
 * vitest globalSetup: gives the whole test run one temporary state folder for the shared test servers
 * (test/support/servers.ts and kube.ts start them lazily, on first use) and stops them when the run ends, so a
 * unit-only run never starts a server and an integration run never leaves one behind.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { devDown } from '../../src/dev/servers';
import { kubeDown } from './kube-control-plane';

/** The provide/inject key under which the run's state folder reaches test files. */
export const TEST_STATE_DIR_KEY = 'vldmTestStateDir';

declare module 'vitest' {
  export interface ProvidedContext {
    vldmTestStateDir: string;
  }
}

/** The part of vitest's TestProject used here (its full type is ESM-only, this project is CommonJS). */
interface ProvidingProject {
  provide(key: typeof TEST_STATE_DIR_KEY, value: string): void;
}

/**
 * The folder is $VLDM_TEST_STATE_DIR when set (.ci/run sets it, so it can stop the servers even when a
 * timeout kills vitest before this teardown runs), else a fresh temporary folder, removed at the end.
 */
export function setup(project: ProvidingProject): () => Promise<void> {
  const fromEnv = process.env.VLDM_TEST_STATE_DIR;
  const stateDir = fromEnv
    ? path.resolve(fromEnv)
    : fs.mkdtempSync(path.join(os.tmpdir(), 'vldm-test-servers-'));
  fs.mkdirSync(stateDir, { recursive: true });
  project.provide(TEST_STATE_DIR_KEY, stateDir);
  return async () => {
    await devDown({ stateDir });
    // The API server of test/support/kube.ts, when a test started one.
    await kubeDown({ stateDir });
    // A folder named by the environment belongs to whoever named it; only our own temp folder goes.
    if (!fromEnv) fs.rmSync(stateDir, { recursive: true, force: true });
  };
}
