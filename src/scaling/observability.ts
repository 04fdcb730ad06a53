/**
 * The scaler process's `/metrics`, `/healthz` and `/readyz` (src/observability/server.ts), on
 * VLDM_METRICS_PORT like the workers'. Live: its event loop responds and a round ended within three
 * intervals (or 60 s, whichever is longer; a round that hangs on an API call fails it). Ready: the
 * loop runs. Neither depends on leading, on Temporal or on the API server being reachable: a round
 * whose observation fails is skipped and still ends, so an outage of either flips no probe.
 */
import { EventLoopMonitor, settingsFromEnv, type CheckFn } from '../observability/health';
import { startObservabilityServer, type ObservabilityServer } from '../observability/server';
import { registryFor } from '../observability/metrics';
import type { ScalerLoop } from './loop';

export async function serveScalerObservability(
  loop: ScalerLoop,
  intervalSeconds: number,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ObservabilityServer | undefined> {
  const settings = settingsFromEnv(env);
  if (!settings) return undefined;
  const started = Date.now();
  const boundMs = Math.max(60_000, 3 * intervalSeconds * 1000);
  const rounds: CheckFn = () => {
    const last = loop.lastRoundAt ?? started;
    const age = Date.now() - last;
    return {
      name: 'rounds',
      ok: age <= boundMs,
      detail: `${loop.lastRoundAt ? 'last round ended' : 'started'} ${(age / 1000).toFixed(1)} s ago (bound ${boundMs / 1000} s)`,
    };
  };
  const server = await startObservabilityServer({
    registry: registryFor('scaler'),
    port: settings.port,
    host: settings.host,
    live: [new EventLoopMonitor().start().check(settings.maxLagMs), rounds],
    ready: [() => ({ name: 'loop', ok: loop.running, detail: loop.running ? 'running' : 'not running' })],
  });
  log(`scaler: metrics and health on ${server.url} (/metrics, /healthz, /readyz)`);
  return server;
}
