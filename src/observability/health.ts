/**
 * The checks behind `/healthz` (liveness) and `/readyz` (readiness), and the settings they read.
 *
 * Liveness asks "is this process still doing its job, or would a restart help?": its event loop has
 * not been blocked longer than a bound recently, and (workers) every Temporal worker in it has had a
 * poll outstanding or a task in flight within a bound. Readiness asks "has it started?": models
 * loaded and every worker running. Neither asks Temporal: when the frontend is briefly down, every
 * pod of every pool would otherwise go unready at once, and PodDisruptionBudgets would then block
 * node drains for as long as it lasts, while a restart would not bring Temporal back. A worker that
 * stays cut off for longer than the poll bound fails liveness (its pollers have nothing outstanding)
 * and is restarted, which is the one thing that may help (a wedged connection). docs/observability.md.
 */
import { UserError } from '../common/errors';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export type CheckFn = () => Check;

/** Where `/metrics`, `/healthz` and `/readyz` are served; `undefined` from settingsFromEnv = off. */
export interface ObservabilitySettings {
  /** TCP port; 0 picks a free one (logged at start). */
  port: number;
  /** Interface to listen on. @default 0.0.0.0 (Prometheus scrapes pods from elsewhere) */
  host: string;
  /** Liveness fails when the event loop was blocked longer than this in the last LAG_WINDOW_MS. Ms. */
  maxLagMs: number;
  /** Liveness fails when a worker had no poll outstanding and no task running for this long. Ms. */
  pollWindowMs: number;
}

export const METRICS_ENV = {
  port: 'VLDM_METRICS_PORT',
  host: 'VLDM_METRICS_HOST',
  maxLag: 'VLDM_HEALTH_MAX_LAG_SECONDS',
  pollWindow: 'VLDM_HEALTH_POLL_SECONDS',
} as const;

function seconds(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return dflt * 1000;
  const n = Number(raw);
  if (!(n > 0) || !Number.isFinite(n))
    throw new UserError(`${name} must be a number of seconds > 0, got "${raw}"`);
  return n * 1000;
}

/**
 * The settings from the environment. Off unless VLDM_METRICS_PORT is set: on a workstation several
 * `vldm worker` processes (and `vldm generate`) share one host, where a fixed default port would
 * clash and an unasked-for listening socket surprises; the chart sets it for every pod.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): ObservabilitySettings | undefined {
  const raw = env[METRICS_ENV.port]?.trim();
  if (raw === undefined || raw === '' || raw === 'off') return undefined;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535)
    throw new UserError(
      `${METRICS_ENV.port} must be a TCP port 0–65535 (0 picks a free one) or "off", got "${raw}"`,
    );
  return {
    port,
    host: env[METRICS_ENV.host]?.trim() || '0.0.0.0',
    maxLagMs: seconds(env, METRICS_ENV.maxLag, 30),
    pollWindowMs: seconds(env, METRICS_ENV.pollWindow, 300),
  };
}

/** Event-loop lag is judged over this recent past, so one long block fails a few probes, not all later ones. */
export const LAG_WINDOW_MS = 10_000;
const TICK_MS = 250;

/**
 * Measures how late a repeating timer fires: a late timer means the event loop was busy (or the
 * process was stopped) for that long. A stopped process answers no probe at all; the lag then tells
 * the first probes after it resumes that it was not live, until LAG_WINDOW_MS has passed.
 */
export class EventLoopMonitor {
  #samples: Array<{ at: number; lag: number }> = [];
  #timer: NodeJS.Timeout | undefined;
  #last = Date.now();

  start(): this {
    this.#last = Date.now();
    this.#timer = setInterval(() => {
      const now = Date.now();
      this.#samples.push({ at: now, lag: Math.max(0, now - this.#last - TICK_MS) });
      this.#last = now;
      while (this.#samples.length && this.#samples[0].at < now - LAG_WINDOW_MS) this.#samples.shift();
    }, TICK_MS);
    this.#timer.unref(); // never keeps a process alive
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The longest lag in the recent window, counting the time since the last tick (a loop blocked now). Ms. */
  maxLagMs(now = Date.now()): number {
    const pending = Math.max(0, now - this.#last - TICK_MS);
    return Math.max(pending, ...this.#samples.map((s) => s.lag));
  }

  check(maxLagMs: number): CheckFn {
    return () => {
      const lag = this.maxLagMs();
      return {
        name: 'event-loop',
        ok: lag <= maxLagMs,
        detail: `longest lag in the last ${LAG_WINDOW_MS / 1000} s: ${(lag / 1000).toFixed(3)} s (bound ${maxLagMs / 1000} s)`,
      };
    };
  }
}
