/**
 * TLS / mTLS for the Temporal connection (self-hosted with TLS, or Temporal Cloud), from files named by
 * environment variables — the Helm chart mounts them from a Secret. Nothing here is ever logged.
 *
 * When a connection fails, the gRPC clients only say "failed to connect before the deadline", so
 * temporalTlsProblem repeats the handshake with node's own TLS to say what was wrong (untrusted server
 * certificate, wrong server name, client certificate refused or missing, TLS on one side only).
 */
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { UserError } from '../common/errors';
import { readUserFile } from '../host/files';
import { parseBoolean } from './values';

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

/** Largest certificate or key file read (a PEM chain is a few KB). */
const MAX_PEM_BYTES = 1 << 20;

function read(env: NodeJS.ProcessEnv, name: string): Buffer | undefined {
  const file = env[name];
  if (!file) return undefined;
  // A regular file of bounded size only: a FIFO here used to hang the CLI before it said anything.
  return readUserFile(file, { what: name, maxBytes: MAX_PEM_BYTES });
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
  // One set of spellings (true/false/1/0/yes/no/on/off, any case); anything else is refused, so a
  // typo can never leave TLS off silently. Off with TLS files set is a contradiction, refused too.
  const raw = env[TEMPORAL_TLS_ENV.enabled];
  const enabled = raw === undefined || raw === '' ? undefined : parseBoolean(TEMPORAL_TLS_ENV.enabled, raw);
  const files = Boolean(crt || ca || serverName);
  if (enabled === false && files)
    throw new UserError(
      `${TEMPORAL_TLS_ENV.enabled} is off but ${[crt && TEMPORAL_TLS_ENV.certFile, ca && TEMPORAL_TLS_ENV.caFile, serverName && TEMPORAL_TLS_ENV.serverName].filter(Boolean).join(', ')} ask for TLS; unset one side`,
    );
  if (!files && enabled !== true) return undefined;
  return {
    ...(serverName ? { serverNameOverride: serverName } : {}),
    ...(ca ? { serverRootCACertificate: ca } : {}),
    ...(crt && key ? { clientCertPair: { crt, key } } : {}),
  };
}

/** How long the diagnosis of a failed connection may take. Milliseconds. */
const DIAGNOSE_TIMEOUT_MS = 3_000;
/** How long to wait for a refusal of the client certificate after the handshake. Milliseconds. */
const ALERT_GRACE_MS = 1_000;

/** What the diagnosis reports when the server hangs up right after the handshake, without an alert. */
const CLOSED_AFTER_HANDSHAKE = 'the server closed the connection right after the TLS handshake';

/** Classifies a handshake error into what to change. */
function hintFor(reason: string, settings: TemporalTls): string {
  const e = TEMPORAL_TLS_ENV;
  const noClientCert = `the server requires a client certificate: set ${e.certFile} and ${e.keyFile}`;
  const refused = `the server refused the client certificate (${e.certFile}): it is not signed by a CA the server trusts, or has expired`;
  // Servers differ in how they refuse a client certificate: an alert, or just hanging up.
  if (/certificate required/i.test(reason)) return noClientCert;
  if (/alert/i.test(reason) || reason === CLOSED_AFTER_HANDSHAKE)
    return settings.clientCertPair ? refused : noClientCert;
  if (/altnames|hostname|does not match/i.test(reason))
    return `the server's certificate does not name this host: set ${e.serverName} to a name it carries`;
  if (/self[- ]signed|issuer|verify|expired|not yet valid|certificate/i.test(reason))
    return `the server's certificate is not signed by ${e.caFile} (or, without it, the system CAs)`;
  if (/wrong version|packet length|unexpected eof|ECONNRESET|socket hang up|http_request/i.test(reason))
    return `the server does not seem to speak TLS: unset the ${e.enabled}* variables`;
  return `check the ${e.enabled}_* settings`;
}

/**
 * A TLS handshake with vldm's settings: the error message, or undefined when it works. Nothing is sent
 * after the handshake, so a server that refuses the client certificate (TLS 1.3 checks it after the
 * handshake) closes cleanly and its alert, or its hanging up, can be seen: wait a moment for either
 * after `secureConnect`.
 */
function handshake(
  host: string,
  port: number,
  settings: TemporalTls,
  timeoutMs: number,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const servername = settings.serverNameOverride ?? (isIP(host) ? undefined : host);
    let done = false;
    const finish = (why: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const socket = tls.connect({
      host,
      port,
      ALPNProtocols: ['h2'],
      ...(settings.serverRootCACertificate ? { ca: settings.serverRootCACertificate } : {}),
      ...(settings.clientCertPair
        ? { cert: settings.clientCertPair.crt, key: settings.clientCertPair.key }
        : {}),
      ...(servername ? { servername } : {}),
      // Check the name the gRPC client checks: the override when given, else the address's host.
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(servername ?? host, cert),
    });
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    let secured = false;
    socket.once('error', (err: Error) => finish(err.message));
    // A gRPC server waits for the client's first bytes; hanging up at once is a refusal.
    socket.once('end', () =>
      finish(secured ? CLOSED_AFTER_HANDSHAKE : 'the server closed the connection during the TLS handshake'),
    );
    socket.once('secureConnect', () => {
      secured = true;
      socket.resume(); // read, or an alert after the handshake would sit unread
      setTimeout(() => finish(undefined), ALERT_GRACE_MS);
    });
  });
}

/** Whether `host:port` completes a TLS handshake when nothing is verified (i.e. it speaks TLS). */
function speaksTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/**
 * After a failed connection to the Temporal frontend at `address` (host:port): a sentence saying what
 * is wrong with TLS, or undefined when TLS is not the problem (or cannot be told). With TLS off it only
 * checks whether the server wants TLS.
 */
export async function temporalTlsProblem(
  address: string,
  settings: TemporalTls | undefined,
  timeoutMs = DIAGNOSE_TIMEOUT_MS,
): Promise<string | undefined> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  if (!settings) {
    return (await speaksTls(host, port, timeoutMs))
      ? `the Temporal server at ${address} speaks TLS and vldm connected without it: set ${TEMPORAL_TLS_ENV.caFile} (or ${TEMPORAL_TLS_ENV.enabled}=true for a publicly signed certificate)`
      : undefined;
  }
  const raw = await handshake(host, port, settings, timeoutMs);
  // OpenSSL's "<id>:error:<code>:SSL routines:<function>:<reason>:<file>:<line>:" → "<reason>".
  const reason = raw && (/:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):/.exec(raw)?.[1] ?? raw);
  if (reason === undefined || /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH/.test(reason)) return undefined;
  return `TLS with the Temporal server at ${address} failed (${reason}): ${hintFor(reason, settings)}`;
}
