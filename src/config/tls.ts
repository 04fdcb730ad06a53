/**
 * TLS / mTLS for the Temporal connection (self-hosted with TLS, or Temporal Cloud), from files named by
 * environment variables — the Helm chart mounts them from a Secret. Nothing here is ever logged.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../common/errors';

export const TEMPORAL_TLS_ENV = {
  certFile: 'VLDM_TEMPORAL_TLS_CERT_FILE',
  keyFile: 'VLDM_TEMPORAL_TLS_KEY_FILE',
  caFile: 'VLDM_TEMPORAL_TLS_CA_FILE',
  serverName: 'VLDM_TEMPORAL_TLS_SERVER_NAME',
  enabled: 'VLDM_TEMPORAL_TLS',
} as const;

/** The shape both `Connection.connect` and `NativeConnection.connect` accept as `tls`. */
export interface TemporalTls {
  serverNameOverride?: string;
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
}

function read(env: NodeJS.ProcessEnv, name: string): Buffer | undefined {
  const file = env[name];
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UserError(
      `${name}=${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** TLS settings, or undefined for a plain connection (the local dev server). */
export function temporalTlsFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalTls | undefined {
  const crt = read(env, TEMPORAL_TLS_ENV.certFile);
  const key = read(env, TEMPORAL_TLS_ENV.keyFile);
  const ca = read(env, TEMPORAL_TLS_ENV.caFile);
  const serverName = env[TEMPORAL_TLS_ENV.serverName];
  if (Boolean(crt) !== Boolean(key)) {
    throw new UserError(
      `${TEMPORAL_TLS_ENV.certFile} and ${TEMPORAL_TLS_ENV.keyFile} must be set together (mTLS client certificate and key)`,
    );
  }
  const on = crt || ca || serverName || env[TEMPORAL_TLS_ENV.enabled] === 'true';
  if (!on) return undefined;
  return {
    ...(serverName ? { serverNameOverride: serverName } : {}),
    ...(ca ? { serverRootCACertificate: ca } : {}),
    ...(crt && key ? { clientCertPair: { crt, key } } : {}),
  };
}
