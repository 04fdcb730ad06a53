/**
 * A codec server for the Temporal Web UI and CLI (Temporal's remote codec protocol): `POST …/encode`
 * and `POST …/decode` take `{"payloads": [...]}` in protobuf JSON (metadata values and data in
 * base64) and answer the same shape, encoded or decoded with this process's keys. Only the last path
 * segment picks the operation, so it can be mounted under any prefix. The browser calls it from the
 * UI's origin, so CORS allows exactly that origin, the `X-Namespace` header the UI sends, and
 * `Authorization` for UIs that forward the user's token.
 *
 * Whoever reaches this server can decrypt: it listens on loopback by default; anywhere else put it
 * behind the same authentication as the UI.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  /** Largest request body in bytes (Temporal caps one payload at 2 MB; the UI batches a few). @default 16 MiB */
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export interface RunningCodecServer {
  /** Base URL, e.g. http://127.0.0.1:8888 (give it to the UI as its codec endpoint). */
  url: string;
  port: number;
  close(): Promise<void>;
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

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, `request body over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parsePayloads(body: Buffer): Payload[] {
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
  try {
    return ((list ?? []) as unknown[]).map((p) => payloadFromJson(p));
  } catch (err) {
    throw new HttpError(400, `a payload is not protobuf JSON: ${(err as Error).message}`);
  }
}

export function startCodecServer(opts: CodecServerOptions): Promise<RunningCodecServer> {
  const allowed = new Set(opts.allowedOrigins.map(originOf));
  const limit = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const log = opts.log ?? (() => undefined);

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
    if (!originOk)
      throw new HttpError(
        403,
        `origin ${req.headers.origin} is not allowed (allowed: ${[...allowed].join(', ')})`,
      );
    if (op !== 'encode' && op !== 'decode') throw new HttpError(404, 'POST to …/encode or …/decode');
    if (req.method !== 'POST') throw new HttpError(405, `use POST for /${op}`);
    const payloads = parsePayloads(await readBody(req, limit));
    let out: Payload[];
    try {
      out = op === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
    const ns = req.headers['x-namespace'];
    log(`${op} ${payloads.length} payload(s)${ns ? ` for namespace ${String(ns)}` : ''}`);
    send(res, 200, { payloads: out.map((p) => payloadToJson(p)) });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!res.headersSent) send(res, status, { message: (err as Error).message });
      else res.end();
    });
  });

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
