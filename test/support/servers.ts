/**
 * Real Temporal, MinIO and NATS servers for integration tests, on loopback ports away from the dev
 * defaults (so a developer's own `vldm dev up` keeps running). The first test file that asks starts
 * them; later files reuse them (devUp finds the live pid files); test/support/global-setup.ts stops
 * them at the end of the run. A missing program fails the test with "run infra/setup.sh", never a skip.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { inject } from 'vitest';
import { UserError } from '../../src/common/errors';
import {
  DevServerAddresses,
  DevServerPorts,
  SearchAttributeType,
  ServerKind,
  SERVER_KINDS,
  devUp,
} from '../../src/dev/servers';
import { TEST_STATE_DIR_KEY } from './global-setup';
import { SEARCH_ATTRIBUTES } from '../../src/common/names';

/** Shifts every test port, so two test runs on one machine (two checkouts) do not collide. */
export const TEST_PORT_OFFSET_ENV = 'VLDM_TEST_PORT_OFFSET';

function portOffset(): number {
  const raw = process.env[TEST_PORT_OFFSET_ENV] ?? '0';
  const offset = Number(raw);
  if (!Number.isInteger(offset) || offset < 0 || offset > 40000) {
    throw new Error(`${TEST_PORT_OFFSET_ENV} must be an integer from 0 to 40000, got ${JSON.stringify(raw)}`);
  }
  return offset;
}

/** The dev defaults with a leading 1 (17233/18233, 19000/19001, 14222), plus $VLDM_TEST_PORT_OFFSET. */
export const TEST_PORTS: DevServerPorts = {
  temporal: 17233 + portOffset(),
  temporalUi: 18233 + portOffset(),
  minio: 19000 + portOffset(),
  minioConsole: 19001 + portOffset(),
  nats: 14222 + portOffset(),
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
  const stateDir = testStateDir();
  try {
    return await devUp({
      stateDir,
      kinds: opts.kinds ?? [...SERVER_KINDS],
      ports: TEST_PORTS,
      searchAttributes: { ...SEARCH_ATTRIBUTES, ...opts.searchAttributes },
    });
  } catch (err) {
    if (err instanceof UserError && /already in use|already running/.test(err.message)) {
      err.message +=
        ` (test servers of another run hold these ports? set ${TEST_PORT_OFFSET_ENV}, e.g. 100, to shift ` +
        `every test port; this run's state dir is ${stateDir})`;
    }
    throw err;
  }
}
