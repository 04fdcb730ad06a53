/**
 * Temporal's own connection conventions beside vldm's: the `TEMPORAL_*` variables and TOML profiles
 * (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE, default
 * "default"), read through the SDK's @temporalio/envconfig, and API keys (Temporal Cloud).
 *
 * Precedence (docs/configuration.md#temporal-connection): vldm's own settings first, as always (flag,
 * VLDM_* variable, vldm.config.json), then Temporal's (a TEMPORAL_* variable over the profile's
 * value), then the defaults. The API key is a secret: read from the environment, a mounted file or
 * the profile, sent as gRPC metadata and never printed, and it turns TLS on unless TLS was set.
 */
import { existsSync } from 'node:fs';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { UserError } from '../common/errors';
import { escapeControls, quote } from '../common/quote';
import { readUserText } from '../host/files';
import { TEMPORAL_TLS_ENV, temporalTlsFromEnv, type TemporalTls } from './tls';
import { parseBoolean } from './values';

export const TEMPORAL_API_KEY_ENV = {
  key: 'VLDM_TEMPORAL_API_KEY',
  file: 'VLDM_TEMPORAL_API_KEY_FILE',
} as const;

/** Largest API key file read (a key is a few hundred bytes). */
const MAX_API_KEY_BYTES = 16 * 1024;

export interface TemporalConventions {
  address?: { value: string; where: string };
  namespace?: { value: string; where: string };
  apiKey?: string;
  /** false: the profile or TEMPORAL_TLS turned TLS off. */
  tls?: TemporalTls | false;
  metadata?: Record<string, string>;
}

const nonEmpty = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);

/** What TEMPORAL_* and the TOML profile say (nothing when neither is there). */
export function temporalConventions(env: NodeJS.ProcessEnv = process.env): TemporalConventions {
  const file = nonEmpty(env.TEMPORAL_CONFIG_FILE);
  if (file !== undefined && !existsSync(file))
    throw new UserError(`TEMPORAL_CONFIG_FILE names ${quote(file)}, which does not exist`);
  const vars = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: vars });
  } catch (err) {
    // The SDK's messages name the profile or the TOML problem; never the key (it does not echo values).
    throw new UserError(
      `Temporal profile${file ? ` in ${quote(file)}` : ''}: ${escapeControls((err as Error).message)}`,
    );
  }
  const profile = nonEmpty(env.TEMPORAL_PROFILE) ?? 'default';
  const fromProfile = `profile ${quote(profile)} of ${file ? quote(file) : 'the Temporal config file'}`;
  const o = loaded.connectionOptions;
  const out: TemporalConventions = {};
  if (o.address)
    out.address = { value: o.address, where: vars.TEMPORAL_ADDRESS ? 'TEMPORAL_ADDRESS' : fromProfile };
  if (loaded.namespace)
    out.namespace = {
      value: loaded.namespace,
      where: vars.TEMPORAL_NAMESPACE ? 'TEMPORAL_NAMESPACE' : fromProfile,
    };
  if (o.apiKey !== undefined) out.apiKey = typeof o.apiKey === 'string' ? o.apiKey : undefined;
  if (o.tls !== undefined && o.tls !== null) out.tls = o.tls === true ? {} : (o.tls as TemporalTls | false);
  if (o.metadata) out.metadata = o.metadata as Record<string, string>; // TEMPORAL_GRPC_META_* are strings
  return out;
}

/** The API key: VLDM_TEMPORAL_API_KEY, the file VLDM_TEMPORAL_API_KEY_FILE, or Temporal's. */
function apiKeyOf(env: NodeJS.ProcessEnv, conventions: TemporalConventions): string | undefined {
  const direct = nonEmpty(env[TEMPORAL_API_KEY_ENV.key]);
  const file = nonEmpty(env[TEMPORAL_API_KEY_ENV.file]);
  if (direct !== undefined && file !== undefined)
    throw new UserError(`${TEMPORAL_API_KEY_ENV.key} and ${TEMPORAL_API_KEY_ENV.file} are both set; set one`);
  if (file !== undefined) {
    const key = readUserText(file, { what: TEMPORAL_API_KEY_ENV.file, maxBytes: MAX_API_KEY_BYTES }).trim();
    if (!key) throw new UserError(`${TEMPORAL_API_KEY_ENV.file} names an empty file`);
    return key;
  }
  return direct ?? conventions.apiKey;
}

/** What `Connection.connect` / `NativeConnection.connect` get besides the address. */
export interface TemporalConnectOptions {
  /** Absent: a plain connection. */
  tls?: TemporalTls;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/**
 * TLS, API key and gRPC metadata for the Temporal connection: vldm's TLS variables (src/config/tls.ts)
 * over the profile's TLS; an API key turns TLS on when nothing set it (Temporal Cloud needs both).
 */
export function temporalConnectOptions(env: NodeJS.ProcessEnv = process.env): TemporalConnectOptions {
  const conventions = temporalConventions(env);
  const apiKey = apiKeyOf(env, conventions);
  const raw = nonEmpty(env[TEMPORAL_TLS_ENV.enabled]);
  const vldmOff = raw !== undefined && !parseBoolean(TEMPORAL_TLS_ENV.enabled, raw);
  const tls = vldmOff
    ? undefined
    : (temporalTlsFromEnv(env) ?? conventions.tls ?? (apiKey !== undefined ? {} : undefined));
  return {
    ...(tls ? { tls } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(conventions.metadata ? { metadata: conventions.metadata } : {}),
  };
}
