/**
 * Opening a NATS connection the way every vldm process does (event bus, `vldm watch`, the scaler):
 * credentials from src/events/auth.ts, reconnecting forever, and failures reported without secrets —
 * a refused credential is told apart from an unreachable server, since only the first is the user's to fix.
 */
import type { NatsConnection } from 'nats';
import {
  NATS_AUTH_ENV,
  isNatsAuthError,
  natsAuthOptions,
  natsTarget,
  redactNatsUrl,
  scrubNatsSecrets,
} from './auth';

/** Options for long-lived connections: reconnect forever, notice a dead server within about a minute. */
export const NATS_CONNECTION_DEFAULTS = {
  reconnect: true,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 2_000,
  pingInterval: 20_000,
  maxPingOut: 3,
} as const;

/** A NATS connection that could not be opened; the message holds no credential. */
export class NatsConnectError extends Error {
  override name = 'NatsConnectError';
  constructor(
    message: string,
    /** True when the server refused the credentials (or there were none and it wants some). */
    readonly authFailed: boolean,
  ) {
    super(message);
  }
}

export interface OpenNatsOptions {
  /** Connection name shown by the NATS server's monitoring. */
  name: string;
  /** How long to wait for the first connection. Milliseconds. @default 2000 */
  timeoutMs?: number;
  /** Where credentials are read from (NATS_AUTH_ENV). @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * Connects to `url` with the configured credentials. Throws a UserError for badly configured
 * credentials (src/events/auth.ts) and a NatsConnectError when the server is unreachable or refuses them.
 */
export async function openNats(url: string, opts: OpenNatsOptions): Promise<NatsConnection> {
  const target = natsTarget(url, opts.env ?? process.env);
  const nats = await import('nats');
  try {
    return await nats.connect({
      servers: target.servers,
      name: opts.name,
      timeout: opts.timeoutMs ?? 2_000,
      ...NATS_CONNECTION_DEFAULTS,
      ...natsAuthOptions(target.auth, nats),
    });
  } catch (err) {
    const where = redactNatsUrl(url);
    const why = scrubNatsSecrets((err as Error).message, target.auth);
    if (isNatsAuthError(err)) {
      const given =
        target.auth.method === 'none'
          ? `no credentials were given (set ${NATS_AUTH_ENV.user}/${NATS_AUTH_ENV.password}, ${NATS_AUTH_ENV.token} or ${NATS_AUTH_ENV.credsFile})`
          : `check the ${target.auth.method === 'creds' ? `credentials file ${target.auth.file}` : target.auth.method === 'user' ? 'user and password' : 'token'}`;
      throw new NatsConnectError(`NATS at ${where} refused the connection (${why}): ${given}`, true);
    }
    throw new NatsConnectError(`cannot reach NATS at ${where} (${why})`, false);
  }
}
