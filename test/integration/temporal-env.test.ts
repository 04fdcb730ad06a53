/**
 * Temporal's connection conventions with real processes (src/config/temporal-env.ts): `vldm list`
 * and `vldm status` reach the test Temporal server and its namespace through a TOML profile alone,
 * and through TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE alone (no vldm flag or VLDM_* variable); a profile
 * naming a closed port fails with the address it came from, and an API key is never printed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli';
import { testServers } from '../support/servers';
import { freePort } from '../support/wait';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vldm-temporal-env-'));
let address = '';
let namespace = '';
// Nothing of vldm's own: no VLDM_TEMPORAL_* and a HOME without a Temporal config file.
const bare = { HOME: tmp, VLDM_TEMPORAL_ADDRESS: '', VLDM_TEMPORAL_NAMESPACE: '', VLDM_NATS_URL: 'off' };

beforeAll(async () => {
  const t = (await testServers({ kinds: ['temporal'] })).temporal!;
  address = t.address;
  namespace = t.namespace;
}, 120_000);

describe('connecting through Temporal’s conventions', () => {
  it('a TOML profile gives the address and the namespace', async () => {
    const file = path.join(tmp, 'temporal.toml');
    writeFileSync(
      file,
      `[profile.default]\naddress = "127.0.0.1:1"\n\n[profile.test]\naddress = "${address}"\nnamespace = "${namespace}"\n`,
    );
    const ok = await runCli(['list', '--json'], {
      ...bare,
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'test',
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(ok.stdout))).toBe(true);
    // A job that is not there: the namespace was reached and answered.
    const st = await runCli(['status', 'absent-job-0000'], {
      ...bare,
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'test',
    });
    expect(st.code).toBe(2);
    expect(st.stderr).toMatch(/absent-job-0000/);
    // The default profile's closed port: refused with that address.
    const port = await freePort();
    writeFileSync(file, `[profile.default]\naddress = "127.0.0.1:${port}"\napi_key = "never-shown-key"\n`);
    const down = await runCli(['list'], { ...bare, TEMPORAL_CONFIG_FILE: file, TEMPORAL_TLS: 'false' });
    expect(down.code).toBe(2);
    expect(down.stderr.trim()).toMatch(
      new RegExp(`^vldm: cannot reach the Temporal server at 127\\.0\\.0\\.1:${port} `),
    );
    expect(down.stderr + down.stdout).not.toContain('never-shown-key');
  }, 120_000);

  it('TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE alone', async () => {
    const ok = await runCli(['list', '--json'], {
      ...bare,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
    });
    expect(ok.code, ok.stderr).toBe(0);
    // The namespace is really the one used: a namespace that does not exist fails.
    const wrong = await runCli(['list', '--json'], {
      ...bare,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: `no-such-namespace-${process.pid}`,
    });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/no-such-namespace/);
  }, 120_000);
});
