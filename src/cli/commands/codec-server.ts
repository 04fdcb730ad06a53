/**
 * `vldm codec-server --port N [--host H] [--ui-origin URL]`: serve Temporal's remote codec protocol
 * with this process's payload keys, so the Temporal Web UI shows encrypted payloads decoded (set the
 * UI's "Codec Server endpoint" to the printed URL). Runs until SIGTERM/SIGINT.
 */
import { UserError } from '../../common/errors';
import type { VldmConfig } from '../../config/config';
import { AesGcmPayloadCodec, CODEC_ENV, keyringFromEnv } from '../../security';
import { codecTokenFromEnv, isLoopbackHost, originOf, startCodecServer } from '../../security/codec-server';
import { parseInteger } from '../../config/values';
import { quote } from '../../common/quote';

export interface CodecServerFlags {
  port?: string;
  host?: string;
  uiOrigin?: string[];
}

export function parsePort(v: string | undefined): number {
  return parseInteger('--port', v ?? '8888', 0, 65535);
}

export async function codecServer(opts: CodecServerFlags, cfg: VldmConfig): Promise<number> {
  const port = parsePort(opts.port);
  const origins = opts.uiOrigin && opts.uiOrigin.length > 0 ? opts.uiOrigin : [cfg.temporalUiUrl];
  for (const o of origins) {
    try {
      originOf(o);
    } catch {
      throw new UserError(
        `--ui-origin must be the Web UI's origin, e.g. http://127.0.0.1:8233, got ${quote(o)}`,
      );
    }
  }
  const ring = keyringFromEnv();
  if (!ring)
    throw new UserError(
      `no payload keys: set ${CODEC_ENV.keys} or ${CODEC_ENV.keyFile} (see docs/configuration.md)`,
    );
  const token = codecTokenFromEnv();
  const host = opts.host ?? '127.0.0.1';
  const log = (l: string) => process.stderr.write(`${new Date().toISOString()} ${l}\n`);
  // Beyond loopback the token is all that stands between the network and the keys: say so.
  if (!isLoopbackHost(host))
    log(
      `warning: listening on ${quote(host)}, beyond this machine: anyone who reaches it with the token can decrypt; serve it behind TLS (a proxy or ingress)`,
    );
  let server;
  try {
    server = await startCodecServer({
      codec: new AesGcmPayloadCodec(ring),
      port,
      host,
      allowedOrigins: origins,
      token,
      log,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new UserError(`cannot listen on ${quote(host)} port ${port} (${code})`);
    throw err;
  }
  log(
    `vldm codec-server ready: ${server.url} (keys ${[...ring.byId.keys()].join(', ')}; encrypting with ${ring.current.id}; CORS for ${origins.map(originOf).join(', ')})`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await server.close();
  log('vldm codec-server stopped');
  return 0;
}
