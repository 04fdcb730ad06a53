/**
 * Lending render outputs between segments (render version 2, src/planning/render-plan.ts). A decode
 * window or tile near a segment boundary is rendered by the later segment and reads outputs of the
 * earlier one; the earlier child lends them instead of the later one computing them again. The lender
 * signals the borrower's child workflow directly (its id follows from the job id), so the job
 * workflow's history does not grow with lending. The borrower may not have started yet (it starts
 * when its keyframes exist): a signal to a workflow that does not exist fails, and the lender tries
 * again after a backoff. Whatever completed in one workflow task goes in one signal.
 */
import { condition, defineSignal, getExternalWorkflowHandle, setHandler, sleep } from '@temporalio/workflow';
import type { FrameSource, LentOutput } from '../src/common/boundary';
import { SIGNALS, segmentWorkflowId } from '../src/common/names';
import type { SegmentRender } from '../src/planning/render-plan';

export const lentSignal = defineSignal<[LentOutput[]]>(SIGNALS.lent);

/** Backoff between tries while the borrower has not started: 1 s doubling to 30 s. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** The lending side, in a segment child: lend an output if a later segment reads it. */
export interface Lender {
  lend(id: string, source: FrameSource): void;
  /** Resolves once every borrower has every output it borrows (await before the child returns). */
  drained(): Promise<void>;
}

export function lender(jobId: string, lends: SegmentRender['lends']): Lender {
  const borrowers = (lends ?? []).map((l) => ({
    workflowId: segmentWorkflowId(jobId, l.segment),
    wanted: new Set(l.ids),
    outbox: [] as LentOutput[],
    sending: false,
    delivered: 0,
  }));
  // A send stops only by cancellation (sleep throws); drained() rethrows it, never an unhandled rejection.
  let failure: unknown;
  const send = async (b: (typeof borrowers)[number]): Promise<void> => {
    if (b.sending) return;
    b.sending = true;
    let wait = RETRY_FIRST_MS;
    while (b.outbox.length > 0) {
      const batch = b.outbox.slice();
      try {
        await getExternalWorkflowHandle(b.workflowId).signal(lentSignal, batch);
        b.outbox.splice(0, batch.length);
        b.delivered += batch.length;
        wait = RETRY_FIRST_MS;
      } catch {
        // Not started yet (or between runs): the borrower starts once its keyframes exist.
        await sleep(wait);
        wait = Math.min(2 * wait, RETRY_MAX_MS);
      }
    }
    b.sending = false;
  };
  return {
    lend(id, source) {
      for (const b of borrowers)
        if (b.wanted.has(id)) {
          b.outbox.push({ id, source });
          send(b).catch((err: unknown) => {
            failure ??= err;
          });
        }
    },
    async drained() {
      await condition(() => failure !== undefined || borrowers.every((b) => b.delivered === b.wanted.size));
      if (failure !== undefined) throw failure;
    },
  };
}

/** The borrowing side, in a segment child: the outputs lent to it, as they arrive. */
export function borrower(): (id: string) => Promise<FrameSource> {
  const received = new Map<string, FrameSource>();
  setHandler(lentSignal, (batch) => {
    for (const o of batch) received.set(o.id, o.source);
  });
  return async (id) => {
    await condition(() => received.has(id));
    return received.get(id)!;
  };
}
