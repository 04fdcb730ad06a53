/**
 * The observability HTTP server of a vldm process (every worker process, the scaler): `/metrics`
 * (Prometheus text: vldm's registry, followed by the Temporal SDK's own metrics when its exporter
 * runs), `/healthz` (liveness) and `/readyz` (readiness), each answering 200 or 503 with a JSON body
 * listing its checks. Plain node:http: no framework for three routes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Check, CheckFn } from './health';

export interface ObservabilityServerOptions {
  /** What /metrics serves (metrics.ts registryFor). */
  registry: Registry;
  port: number;
  host: string;
  live: CheckFn[];
  ready: CheckFn[];
  /** More exposition text for `/metrics` (the SDK's exporter, read over loopback). */
  extraMetrics?: () => Promise<string>;
}

export interface ObservabilityServer {
  /** e.g. http://0.0.0.0:9464 (the bound port, also when 0 was asked for). */
  url: string;
  port: number;
  close(): Promise<void>;
}

function runChecks(checks: CheckFn[]): { ok: boolean; checks: Check[] } {
  const results = checks.map((c) => {
    try {
      return c();
    } catch (err) {
      return { name: 'check', ok: false, detail: (err as Error).message };
    }
  });
  return { ok: results.every((r) => r.ok), checks: results };
}

export async function startObservabilityServer(
  opts: ObservabilityServerOptions,
): Promise<ObservabilityServer> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/metrics') {
      void (async () => {
        try {
          let body = await opts.registry.metrics();
          if (opts.extraMetrics) body += await opts.extraMetrics();
          res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body);
        } catch (err) {
          res
            .writeHead(500, { 'content-type': 'text/plain' })
            .end(`metrics failed: ${(err as Error).message}\n`);
        }
      })();
      return;
    }
    if (url === '/healthz' || url === '/readyz') {
      const r = runChecks(url === '/healthz' ? opts.live : opts.ready);
      res
        .writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(`${JSON.stringify({ status: r.ok ? 'ok' : 'failing', checks: r.checks })}\n`);
      return;
    }
    res
      .writeHead(404, { 'content-type': 'text/plain' })
      .end('not found: try /metrics, /healthz or /readyz\n');
  });
  // A probe or scraper that hangs up must not keep the process from exiting.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Reads another Prometheus endpoint's text (the SDK's exporter on loopback); a comment when it fails. */
export async function scrapeText(url: string, timeoutMs = 2_000): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return `# ${url} answered ${res.status}\n`;
    const text = await res.text();
    return text.endsWith('\n') || text === '' ? text : `${text}\n`;
  } catch (err) {
    return `# ${url} unreachable: ${(err as Error).message}\n`;
  }
}
