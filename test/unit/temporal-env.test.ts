/**
 * Temporal's connection conventions beside vldm's (src/config/temporal-env.ts, docs/configuration.md):
 * a TOML profile, TEMPORAL_* over it, vldm's own settings over both; API keys turn TLS on and are
 * never echoed; bad profiles are one clear line.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config';
import { temporalConnectOptions } from '../../src/config/temporal-env';
import { UserError } from '../../src/common/errors';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vldm-temporal-env-'));
const toml = path.join(dir, 'temporal.toml');
writeFileSync(
  toml,
  [
    '[profile.default]',
    'address = "profile-host:7233"',
    'namespace = "from-profile"',
    '',
    '[profile.cloud]',
    'address = "ns.a1b2.tmprl.cloud:7233"',
    'namespace = "ns.a1b2"',
    'api_key = "profile-secret-key"',
    '',
  ].join('\n'),
);
// No user config folder of this machine is read: HOME points at an empty folder.
const base = { HOME: dir, VLDM_NATS_URL: 'off' };
const cfg = (env: NodeJS.ProcessEnv, flags = {}) => resolveConfig(flags, { ...base, ...env }, dir);

describe('Temporal connection settings', () => {
  it('come from the TOML profile when vldm sets none', () => {
    expect(cfg({ TEMPORAL_CONFIG_FILE: toml })).toMatchObject({
      temporalAddress: 'profile-host:7233',
      namespace: 'from-profile',
    });
    expect(cfg({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud' })).toMatchObject({
      temporalAddress: 'ns.a1b2.tmprl.cloud:7233',
      namespace: 'ns.a1b2',
    });
  });

  it('TEMPORAL_* over the profile, VLDM_* over TEMPORAL_*, flags over all', () => {
    const env = {
      TEMPORAL_CONFIG_FILE: toml,
      TEMPORAL_ADDRESS: 'env-host:7233',
      TEMPORAL_NAMESPACE: 'env-ns',
    };
    expect(cfg(env)).toMatchObject({ temporalAddress: 'env-host:7233', namespace: 'env-ns' });
    const vldm = { ...env, VLDM_TEMPORAL_ADDRESS: 'vldm-host:7233', VLDM_TEMPORAL_NAMESPACE: 'vldm-ns' };
    expect(cfg(vldm)).toMatchObject({ temporalAddress: 'vldm-host:7233', namespace: 'vldm-ns' });
    expect(cfg(vldm, { temporalAddress: 'flag-host:1', namespace: 'flag-ns' })).toMatchObject({
      temporalAddress: 'flag-host:1',
      namespace: 'flag-ns',
    });
    // Nothing anywhere: the defaults.
    expect(cfg({})).toMatchObject({ temporalAddress: '127.0.0.1:7233', namespace: 'default' });
  });

  it('a bad value names where it came from; a missing file or profile is one clear line', () => {
    expect(() => cfg({ TEMPORAL_ADDRESS: 'no port' })).toThrow(/temporal address \(TEMPORAL_ADDRESS\)/);
    const bad = path.join(dir, 'bad.toml');
    writeFileSync(bad, '[profile.default]\naddress = "nohost"\n');
    expect(() => cfg({ TEMPORAL_CONFIG_FILE: bad })).toThrow(
      /temporal address \(profile "default" of ".*bad\.toml"\)/,
    );
    expect(() => cfg({ TEMPORAL_CONFIG_FILE: path.join(dir, 'absent.toml') })).toThrow(UserError);
    expect(() => cfg({ TEMPORAL_CONFIG_FILE: path.join(dir, 'absent.toml') })).toThrow(/does not exist/);
    expect(() => cfg({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'nope' })).toThrow(
      /Profile 'nope' not found/,
    );
    const broken = path.join(dir, 'broken.toml');
    writeFileSync(broken, '[profile.default\naddress = 1\n');
    expect(() => cfg({ TEMPORAL_CONFIG_FILE: broken })).toThrow(UserError);
  });

  it('an API key turns TLS on unless TLS is set off, and is never in a message', () => {
    const withKey = temporalConnectOptions({
      ...base,
      TEMPORAL_CONFIG_FILE: toml,
      TEMPORAL_PROFILE: 'cloud',
    });
    expect(withKey).toEqual({ apiKey: 'profile-secret-key', tls: {} });
    expect(temporalConnectOptions({ ...base, TEMPORAL_API_KEY: 'k1' })).toEqual({ apiKey: 'k1', tls: {} });
    expect(temporalConnectOptions({ ...base, TEMPORAL_API_KEY: 'k1', TEMPORAL_TLS: 'false' })).toEqual({
      apiKey: 'k1',
    });
    expect(temporalConnectOptions({ ...base, TEMPORAL_API_KEY: 'k1', VLDM_TEMPORAL_TLS: 'false' })).toEqual({
      apiKey: 'k1',
    });
    // vldm's key over Temporal's; the file form for mounted secrets.
    expect(
      temporalConnectOptions({ ...base, TEMPORAL_API_KEY: 'k1', VLDM_TEMPORAL_API_KEY: 'k2' }).apiKey,
    ).toBe('k2');
    const keyFile = path.join(dir, 'key');
    writeFileSync(keyFile, 'file-secret\n');
    expect(temporalConnectOptions({ ...base, VLDM_TEMPORAL_API_KEY_FILE: keyFile }).apiKey).toBe(
      'file-secret',
    );
    let message = '';
    try {
      temporalConnectOptions({
        ...base,
        VLDM_TEMPORAL_API_KEY: 'both-secret',
        VLDM_TEMPORAL_API_KEY_FILE: keyFile,
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/VLDM_TEMPORAL_API_KEY and VLDM_TEMPORAL_API_KEY_FILE are both set/);
    expect(message).not.toContain('both-secret');
    // No key, no TLS: a plain connection (the local dev server).
    expect(temporalConnectOptions(base)).toEqual({});
  });
});
