/**
 * Real Temporal, MinIO and NATS servers for integration tests, on loopback ports away from the dev
 * defaults (so a developer's own `vldm dev up` keeps running). The first test file that asks starts
 * them; later files reuse them (devUp finds the live pid files); test/support/global-setup.ts stops
 * them at the end of the run. A missing program fails the test with "run infra/setup.sh", never a skip.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { inject } from 'vitest';
import {
  DevServerAddresses,
  DevServerPorts,
  SearchAttributeType,
  ServerKind,
  SERVER_KINDS,
  devUp,
} from '../../src/dev/servers';
import { TEST_STATE_DIR_KEY } from './global-setup';

/** The dev defaults with a leading 1: 17233/18233, 19000/19001, 14222. */
export const TEST_PORTS: DevServerPorts = {
  temporal: 17233,
  temporalUi: 18233,
  minio: 19000,
  minioConsole: 19001,
  nats: 14222,
};

/**
 * The run's state folder: the one global-setup provides, else a fixed folder under the system temp dir
 * (when a test runs without that globalSetup the servers stay up after the run and the next run reuses
 * them).
 */
export function testStateDir(): string {
  let provided: string | undefined;
  try {
    provided = inject(TEST_STATE_DIR_KEY);
  } catch {
    provided = undefined;
  }
  return provided ?? process.env.VLDM_TEST_STATE_DIR ?? path.join(os.tmpdir(), 'vldm-test-servers');
}

/**
 * Starts (or reuses) the shared test servers and returns their addresses. `searchAttributes` are
 * registered on the Temporal namespace if missing, so each test file can ask for the ones it needs.
 */
export async function testServers(
  opts: { kinds?: ServerKind[]; searchAttributes?: Record<string, SearchAttributeType> } = {},
): Promise<DevServerAddresses> {
  return devUp({
    stateDir: testStateDir(),
    kinds: opts.kinds ?? [...SERVER_KINDS],
    ports: TEST_PORTS,
    searchAttributes: opts.searchAttributes,
  });
}
