/**
 * A codec server for the Temporal Web UI and CLI (Temporal's remote codec protocol): `POST …/encode`
 * and `POST …/decode` take `{"payloads": [...]}` in protobuf JSON (metadata values and data in
 * base64) and answer the same shape, encoded or decoded with this process's keys. Only the last path
 * segment picks the operation, so it can be mounted under any prefix. The browser calls it from the
 * UI's origin, so CORS allows exactly that origin, the `X-Namespace` header the UI sends, and
 * `Authorization` for UIs that forward the user's token.
 *
 * Whoever passes this server's checks can decrypt and mint ciphertext, so every request but the CORS
 * preflight (which browsers send without credentials) must carry `Authorization: Bearer <token>`
 * with the configured static token, whatever its Origin (a request without an Origin is not a
 * browser, and CORS protects nothing then). The token is compared in constant time. Answers never
 * name the keys held or the origins allowed; payload count and body size are bounded with 413s.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { UserError } from '../common/errors';
import { readUserText } from '../host/files';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { payloadFromJson, payloadToJson } from './payload-json';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** TCP port; 0 picks a free one. @default 8888 */
  port?: number;
  /** Interface to listen on. @default "127.0.0.1" */
  host?: string;
  /** Origins allowed to call from a browser (the Temporal Web UI's, e.g. "http://127.0.0.1:8233"). */
  allowedOrigins: string[];
  /** The bearer token every request but the preflight must carry (CODEC_TOKEN_ENV). */
  token: string;
  /** Largest request body in bytes (Temporal caps one payload at 2 MB; the UI batches a few). @default 16 MiB */
  maxBodyBytes?: number;
  /** Most payloads one request may hold (the UI sends one event's worth). @default 1000 */
  maxPayloads?: number;
  log?: (line: string) => void;
}

export interface RunningCodecServer {
  /** Base URL, e.g. http://127.0.0.1:8888 (give it to the UI as its codec endpoint). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Where the codec server's bearer token comes from: the environment or a mounted file, never a config file. */
export const CODEC_TOKEN_ENV = {
  token: 'VLDM_CODEC_SERVER_TOKEN',
  tokenFile: 'VLDM_CODEC_SERVER_TOKEN_FILE',
} as const;

/** Shortest token accepted: long enough that guessing it over HTTP is hopeless. */
export const MIN_TOKEN_CHARS = 16;

/** The configured bearer token (trimmed), or a UserError naming what to set. Never prints the token. */
export function codecTokenFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const direct = env[CODEC_TOKEN_ENV.token] || undefined;
  const file = env[CODEC_TOKEN_ENV.tokenFile] || undefined;
  if (direct !== undefined && file !== undefined)
    throw new UserError(`set ${CODEC_TOKEN_ENV.token} or ${CODEC_TOKEN_ENV.tokenFile}, not both`);
  if (direct === undefined && file === undefined)
    throw new UserError(
      `the codec server needs a bearer token: set ${CODEC_TOKEN_ENV.token} or ${CODEC_TOKEN_ENV.tokenFile} (at least ${MIN_TOKEN_CHARS} characters; see docs/configuration.md)`,
    );
  const token = (direct ?? readUserText(file!, { what: CODEC_TOKEN_ENV.tokenFile, maxBytes: 4096 })).trim();
  if (token.length < MIN_TOKEN_CHARS || !/^[\x21-\x7e]+$/.test(token))
    throw new UserError(
      `${file ? CODEC_TOKEN_ENV.tokenFile : CODEC_TOKEN_ENV.token}: the token must be at least ${MIN_TOKEN_CHARS} printable characters without spaces`,
    );
  return token;
}

/** Whether `host` (a --host value) is a loopback interface, reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

export const CORS_ALLOWED_HEADERS = 'X-Namespace, Content-Type, Authorization';
export const CORS_ALLOWED_METHODS = 'POST, GET, OPTIONS';

/** Normalises an origin ("http://Host:8233/" → "http://host:8233"); throws on anything that is not one. */
export function originOf(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new Error(`origin must be http(s)://host[:port], got "${url}"`);
  return u.origin;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** How much of an oversized body is read and dropped so its sender can see the 413 (then the socket is cut). */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * The request body, up to `limit` bytes. Over the limit, the rest is read and dropped (up to
 * DRAIN_LIMIT_BYTES) before the 413 goes out: answering while the client is still sending makes it
 * see a connection reset instead of the answer.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > limit;
    const tooBig = () => new HttpError(413, `request body over ${limit} bytes`);
    if (over && declared > DRAIN_LIMIT_BYTES) {
      reject(tooBig());
      return;
    }
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      if (over) {
        chunks.length = 0;
        if (size > DRAIN_LIMIT_BYTES) {
          reject(tooBig());
          req.destroy();
        }
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => (over ? reject(tooBig()) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

function parsePayloads(body: Buffer, maxPayloads: number): Payload[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON; send {"payloads": [...]}');
  }
  const list = (json as { payloads?: unknown } | null)?.payloads;
  if (typeof json !== 'object' || json === null || (list !== undefined && !Array.isArray(list))) {
    throw new HttpError(400, 'body must be {"payloads": [...]} (Payloads in protobuf JSON)');
  }
  // Counted before any payload is converted: a flood of empty payloads costs one JSON.parse.
  if ((list ?? []).length > maxPayloads)
    throw new HttpError(413, `at most ${maxPayloads} payloads per request, got ${(list ?? []).length}`);
  try {
    return ((list ?? []) as unknown[]).map((p) => payloadFromJson(p));
  } catch {
    throw new HttpError(400, 'a payload is not protobuf JSON (metadata values and data in base64)');
  }
}

export function startCodecServer(opts: CodecServerOptions): Promise<RunningCodecServer> {
  const allowed = new Set(opts.allowedOrigins.map(originOf));
  const limit = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const maxPayloads = opts.maxPayloads ?? 1000;
  const log = opts.log ?? (() => undefined);
  if (opts.token.length < MIN_TOKEN_CHARS)
    throw new Error(`the codec server's token must be at least ${MIN_TOKEN_CHARS} characters`);
  // Compared as digests, so timingSafeEqual sees equal lengths and the token's length does not leak.
  const digest = (t: string) => createHash('sha256').update(t).digest();
  const expected = digest(opts.token);
  const authorised = (req: IncomingMessage): boolean => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return m !== null && timingSafeEqual(digest(m[1]), expected);
  };

  const cors = (req: IncomingMessage, res: ServerResponse): boolean => {
    const origin = req.headers.origin;
    if (origin === undefined) return true; // not a browser: CORS does not apply
    if (!allowed.has(origin)) return false;
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Methods', CORS_ALLOWED_METHODS);
    res.setHeader('Access-Control-Allow-Headers', CORS_ALLOWED_HEADERS);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Access-Control-Max-Age', '600');
    res.setHeader('Vary', 'Origin');
    return true;
  };

  const send = (res: ServerResponse, status: number, body?: unknown) => {
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const originOk = cors(req, res);
    const op = (
      new URL(req.url ?? '/', 'http://codec').pathname.replace(/\/+$/, '').split('/').pop() ?? ''
    ).toLowerCase();
    if (req.method === 'OPTIONS') {
      send(res, originOk ? 204 : 403);
      return;
    }
    // The answer names neither the origins allowed nor anything else about this server's setup.
    if (!originOk) throw new HttpError(403, 'this origin is not allowed');
    if (!authorised(req)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="vldm-codec"');
      throw new HttpError(401, 'missing or wrong Authorization: Bearer token');
    }
    if (op !== 'encode' && op !== 'decode') throw new HttpError(404, 'POST to …/encode or …/decode');
    if (req.method !== 'POST') throw new HttpError(405, `use POST for /${op}`);
    const payloads = parsePayloads(await readBody(req, limit), maxPayloads);
    let out: Payload[];
    try {
      out = op === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
    } catch (err) {
      // The codec's own message may name key ids; it goes to this server's log, not to the caller.
      log(`${op} refused: ${(err as Error).message}`);
      throw new HttpError(400, `a payload could not be ${op}d with this server's keys`);
    }
    const ns = req.headers['x-namespace'];
    log(`${op} ${payloads.length} payload(s)${ns ? ` for namespace ${String(ns)}` : ''}`);
    send(res, 200, { payloads: out.map((p) => payloadToJson(p)) });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof HttpError ? err.message : 'internal error';
      if (status === 500) log(`internal error: ${(err as Error).message}`);
      // A refused body may not have been read to its end: close the connection after the answer.
      if (status === 413) res.setHeader('Connection', 'close');
      if (!res.headersSent) send(res, status, { message });
      else res.end();
    });
  });
  // A slow sender does not hold a connection for long.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8888, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const { port, address } = server.address() as AddressInfo;
      const host = address.includes(':') ? `[${address}]` : address;
      resolve({
        url: `http://${host}:${port}`,
        port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            // Browsers keep connections alive; close them so shutdown does not wait for their timeout.
            server.closeAllConnections();
          }),
      });
    });
  });
}
