/**
 * Watching one job's progress events (what `vldm watch` uses). Returns undefined when NATS is
 * unreachable or refuses the credentials, so that the caller can fall back to polling Temporal.
 */

import { UserError } from '../common/errors';
import { JOB_ID_PATTERN, SUBJECTS } from '../common/names';
import type { WarnFn } from './bus';
import { NatsConnectError, openNats } from './connect';
import { isProgressEvent, ProgressEvent } from './types';

export interface Subscription {
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /** How long to wait for the connection. Milliseconds. @default 2000 */
  timeoutMs?: number;
  /** Where problems with received messages or the callback go, and refused credentials. @default console.warn */
  warn?: WarnFn;
  /** Where NATS credentials are read from (src/events/auth.ts). @default process.env */
  env?: NodeJS.ProcessEnv;
}

const decoder = new TextDecoder();

/**
 * Calls `onEvent` for each well-formed progress event of `jobId` published from now on. Messages that
 * are not progress events are skipped; an exception from `onEvent` is reported and does not end the
 * subscription. When this resolves the server has registered the subscription.
 */
export async function subscribeProgress(
  url: string,
  jobId: string,
  onEvent: (e: ProgressEvent) => void,
  opts: SubscribeOptions = {},
): Promise<Subscription | undefined> {
  if (!JOB_ID_PATTERN.test(jobId))
    throw new UserError(
      `job id ${JSON.stringify(jobId)} is invalid: use 1-63 lowercase letters, digits and '-', starting with a letter or digit`,
    );
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  let nc;
  try {
    nc = await openNats(url, {
      name: `vldm-watch-${jobId}`,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.env ? { env: opts.env } : {}),
    });
  } catch (err) {
    // An unreachable server is ordinary (the caller polls instead); refused or badly configured
    // credentials are the user's to fix, so they are said (without the secret).
    if (!(err instanceof NatsConnectError) || err.authFailed)
      warn(`progress events unavailable: ${(err as Error).message}`);
    return undefined;
  }
  let warnedBad = false;
  const sub = nc.subscribe(SUBJECTS.progress(jobId), {
    callback: (err, msg) => {
      if (err) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(decoder.decode(msg.data));
      } catch {
        parsed = undefined;
      }
      if (!isProgressEvent(parsed) || parsed.jobId !== jobId) {
        if (!warnedBad)
          warn(`ignoring a message on ${msg.subject} that is not a progress event of job ${jobId}`);
        warnedBad = true;
        return;
      }
      try {
        onEvent(parsed);
      } catch (e) {
        warn(`progress handler failed: ${(e as Error).message}`);
      }
    },
  });
  try {
    await nc.flush();
  } catch {
    await nc.close().catch(() => undefined);
    return undefined;
  }
  const conn = nc;
  return {
    async close() {
      try {
        sub.unsubscribe();
        await conn.close();
      } catch {
        // already closed
      }
    },
  };
}
