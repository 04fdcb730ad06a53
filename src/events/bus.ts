/**
 * Publishing progress events on NATS (plain pub/sub on SUBJECTS.progress(jobId)). Progress is a
 * convenience, never a dependency: when NATS is unreachable the bus is a NullEventBus, publish never
 * throws or waits, and events are dropped while the connection is down instead of piling up in memory.
 * Plain pub/sub rather than JetStream: a watcher wants what happens now; history lives in Temporal.
 */

import type { NatsConnection } from 'nats';

import { JOB_ID_PATTERN, SUBJECTS } from '../common/names';
import { openNats } from './connect';
import { redactNatsUrl } from './auth';
import type { ProgressEvent } from './types';

export type WarnFn = (message: string) => void;

export interface EventBus {
  /** Sends the event if connected; never throws, never blocks, drops it when disconnected. */
  publish(e: ProgressEvent): void;
  /** Flushes what is buffered (briefly) and disconnects; never throws. */
  close(): Promise<void>;
}

export interface EventBusOptions {
  /** Connection name shown by the NATS server's monitoring. @default 'vldm' */
  name?: string;
  /** How long to wait for the first connection before giving up. Milliseconds. @default 2000 */
  timeoutMs?: number;
  /** Where warnings go (unreachable server, dropped events). @default console.warn */
  warn?: WarnFn;
  /** Where NATS credentials are read from (src/events/auth.ts). @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** Used when no NATS URL is configured or the server cannot be reached: accepts and drops everything. */
export class NullEventBus implements EventBus {
  readonly connected = false;
  publish(_e: ProgressEvent): void {}
  async close(): Promise<void> {}
}

const encoder = new TextEncoder();
/** Bound on close(): a half-dead connection must not hold up a finished job. Milliseconds. */
const CLOSE_TIMEOUT_MS = 2_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class NatsEventBus implements EventBus {
  #up = true;
  #dropped = 0;
  #warnedBadJob = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly warn: WarnFn,
  ) {
    void this.watch();
  }

  /** Events dropped so far because the connection was down. */
  get dropped(): number {
    return this.#dropped;
  }

  get connected(): boolean {
    return this.#up && !this.nc.isClosed();
  }

  private async watch(): Promise<void> {
    try {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect' && this.#up) {
          this.#up = false;
          this.warn(
            `NATS connection to ${redactNatsUrl(String(s.data))} lost; progress events are dropped until it is back (the job is not affected)`,
          );
        } else if (s.type === 'reconnect' && !this.#up) {
          this.#up = true;
          this.warn(`NATS connection back after dropping ${this.#dropped} progress event(s)`);
        }
      }
    } catch {
      // The status iterator ends with the connection; nothing to report.
    }
  }

  publish(e: ProgressEvent): void {
    try {
      if (!this.connected) {
        this.#dropped++;
        return;
      }
      if (!JOB_ID_PATTERN.test(e.jobId)) {
        if (!this.#warnedBadJob)
          this.warn(
            `progress event dropped: job id ${JSON.stringify(e.jobId)} does not match ${JOB_ID_PATTERN}`,
          );
        this.#warnedBadJob = true;
        return;
      }
      this.nc.publish(SUBJECTS.progress(e.jobId), encoder.encode(JSON.stringify(e)));
    } catch {
      this.#dropped++;
    }
  }

  async close(): Promise<void> {
    try {
      if (this.connected) await withTimeout(this.nc.flush(), CLOSE_TIMEOUT_MS);
    } catch {
      // flushing is best effort
    }
    try {
      await withTimeout(this.nc.close(), CLOSE_TIMEOUT_MS);
    } catch {
      // already closed
    }
  }
}

/**
 * Connects to NATS at `url` with the configured credentials; returns a NullEventBus (after one warning
 * naming no credential) when `url` is unset, the credentials are refused or badly configured, or the
 * server does not answer within `timeoutMs`. Call close() when done: an open connection keeps Node running.
 */
export async function connectEventBus(
  url: string | undefined,
  opts: EventBusOptions = {},
): Promise<EventBus> {
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  if (url === undefined || url.trim() === '') return new NullEventBus();
  try {
    const nc = await openNats(url, {
      name: opts.name ?? 'vldm',
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.env ? { env: opts.env } : {}),
    });
    return new NatsEventBus(nc, warn);
  } catch (err) {
    // openNats's messages name the server without user info and hold no credential.
    warn(`progress events disabled: ${(err as Error).message}; the job runs without them`);
    return new NullEventBus();
  }
}
