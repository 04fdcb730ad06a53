/**
 * NATS credentials: user and password, a token, or a credentials file (JWT + NKey seed, as NGS and
 * operator-mode servers issue), from the environment or from the URL's user info
 * (`nats://user:pass@host:4222`, `nats://token@host:4222`). Secrets never reach a log line or an error
 * message: URLs are printed through redactNatsUrl, and what the server or client library says is
 * scrubbed of the secret values before it is shown.
 */
import { UserError } from '../common/errors';
import { REDACTED, quote, redactUrl } from '../common/quote';
import { readUserText } from '../host/files';

/** Environment variables holding NATS credentials (set one method, or put it in the URL). */
export const NATS_AUTH_ENV = {
  user: 'VLDM_NATS_USER',
  password: 'VLDM_NATS_PASSWORD',
  token: 'VLDM_NATS_TOKEN',
  /** A `.creds` file (user JWT and NKey seed), e.g. mounted from a Kubernetes Secret. */
  credsFile: 'VLDM_NATS_CREDS_FILE',
} as const;

/** What replaces user info in URLs that are printed (one constant for every redaction). */
export { REDACTED };

/** Largest credentials file read (a JWT and a seed are a few KB). */
const MAX_CREDS_BYTES = 64 * 1024;

const CREDS_MARKERS = ['-----BEGIN NATS USER JWT-----', '-----BEGIN USER NKEY SEED-----'];

export type NatsAuth =
  | { method: 'none' }
  | { method: 'user'; user: string; pass: string }
  | { method: 'token'; token: string }
  | { method: 'creds'; creds: Uint8Array; file: string };

/** Where to connect and how to authenticate; `servers` hold no user info. */
export interface NatsTarget {
  servers: string[];
  auth: NatsAuth;
}

/**
 * `url` with the user info of every server replaced by `***` (safe to print). The user info runs to
 * the last `@` of each server, so a password holding `@` is hidden whole (src/common/quote.ts).
 */
export function redactNatsUrl(url: string): string {
  return redactUrl(url);
}

/** `text` with every secret of `auth` replaced by `***`: for messages that come from elsewhere. */
export function scrubNatsSecrets(text: string, auth: NatsAuth): string {
  const secrets: string[] =
    auth.method === 'user'
      ? [auth.pass, encodeURIComponent(auth.pass)]
      : auth.method === 'token'
        ? [auth.token, encodeURIComponent(auth.token)]
        : [];
  let out = redactNatsUrl(text);
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(REDACTED);
  return out;
}

function fromUrl(url: string): { servers: string[]; auth: NatsAuth } {
  const servers: string[] = [];
  const found: NatsAuth[] = [];
  for (const raw of url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    // The host follows the *last* `@`: an unescaped `@` in a password belongs to the password.
    const m = /^([a-z]+:\/\/)(.*)@([^@]*)$/is.exec(raw);
    if (!m) {
      servers.push(raw);
      continue;
    }
    servers.push(m[1] + m[3]);
    let user: string;
    let pass: string | undefined;
    try {
      const colon = m[2].indexOf(':');
      user = decodeURIComponent(colon < 0 ? m[2] : m[2].slice(0, colon));
      pass = colon < 0 ? undefined : decodeURIComponent(m[2].slice(colon + 1));
    } catch {
      throw new UserError(`NATS URL ${redactNatsUrl(raw)}: the user info is not valid percent-encoding`);
    }
    found.push(pass === undefined ? { method: 'token', token: user } : { method: 'user', user, pass });
  }
  const first = found[0];
  if (!first) return { servers, auth: { method: 'none' } };
  const same = found.every((a) => JSON.stringify(a) === JSON.stringify(first));
  if (!same || found.length !== servers.length)
    throw new UserError(
      `NATS URL ${redactNatsUrl(url)}: every server must carry the same credentials (or put them in ${NATS_AUTH_ENV.user}/${NATS_AUTH_ENV.password} or ${NATS_AUTH_ENV.token})`,
    );
  return { servers, auth: first };
}

function fromEnv(env: NodeJS.ProcessEnv): NatsAuth[] {
  const get = (name: string) => (env[name] === '' ? undefined : env[name]);
  const user = get(NATS_AUTH_ENV.user);
  const pass = get(NATS_AUTH_ENV.password);
  const token = get(NATS_AUTH_ENV.token);
  const credsFile = get(NATS_AUTH_ENV.credsFile);
  const out: NatsAuth[] = [];
  if ((user === undefined) !== (pass === undefined))
    throw new UserError(`set both ${NATS_AUTH_ENV.user} and ${NATS_AUTH_ENV.password}, or neither`);
  if (user !== undefined && pass !== undefined) out.push({ method: 'user', user, pass });
  if (token !== undefined) out.push({ method: 'token', token });
  if (credsFile !== undefined) {
    const text = readUserText(credsFile, { what: NATS_AUTH_ENV.credsFile, maxBytes: MAX_CREDS_BYTES });
    if (!CREDS_MARKERS.every((m) => text.includes(m)))
      throw new UserError(
        `${NATS_AUTH_ENV.credsFile}=${quote(credsFile)} is not a NATS credentials file (it needs a user JWT and an NKey seed block)`,
      );
    out.push({ method: 'creds', creds: new TextEncoder().encode(text), file: credsFile });
  }
  return out;
}

/**
 * Servers and credentials for `url` and `env`. At most one method may be configured, counting the
 * URL's user info; a missing half (user without password), an unreadable or malformed creds file, or
 * two methods at once is a UserError that names the variables and no secret.
 */
export function natsTarget(url: string, env: NodeJS.ProcessEnv = process.env): NatsTarget {
  const { servers, auth: urlAuth } = fromUrl(url);
  const methods = [...(urlAuth.method === 'none' ? [] : [urlAuth]), ...fromEnv(env)];
  if (methods.length > 1)
    throw new UserError(
      `NATS credentials are configured ${methods.length} ways (${methods.map((m) => m.method).join(', ')}); ` +
        `use one of: user info in the URL, ${NATS_AUTH_ENV.user}+${NATS_AUTH_ENV.password}, ${NATS_AUTH_ENV.token}, ${NATS_AUTH_ENV.credsFile}`,
    );
  return { servers, auth: methods[0] ?? { method: 'none' } };
}

/** The part of `nats.connect`'s options that authenticates (needs the loaded `nats` module). */
export function natsAuthOptions(
  auth: NatsAuth,
  nats: Pick<typeof import('nats'), 'credsAuthenticator'>,
): {
  user?: string;
  pass?: string;
  token?: string;
  authenticator?: ReturnType<typeof nats.credsAuthenticator>;
} {
  switch (auth.method) {
    case 'user':
      return { user: auth.user, pass: auth.pass };
    case 'token':
      return { token: auth.token };
    case 'creds':
      return { authenticator: nats.credsAuthenticator(auth.creds) };
    default:
      return {};
  }
}

/** nats.js error codes of a refused or unusable credential. */
const NATS_AUTH_ERROR_CODES = [
  'AUTHORIZATION_VIOLATION',
  'AUTHENTICATION_EXPIRED',
  'AUTHENTICATION_TIMEOUT',
  'BAD_AUTHENTICATION',
];

/** True for the NATS errors that mean "wrong or missing credentials" (not "unreachable"). */
export function isNatsAuthError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && NATS_AUTH_ERROR_CODES.includes(code);
}
