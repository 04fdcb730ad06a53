/**
 * Lending render outputs between segments (render version 2, src/planning/render-plan.ts). A decode
 * window or tile near a segment boundary is rendered by the later segment and reads outputs of the
 * earlier one; the earlier child lends them instead of the later one computing them again. Children
 * cannot signal a sibling that may not have started yet, so the job workflow relays: a child signals
 * its parent with each batch of lent outputs, and the parent forwards to each started borrower what it
 * needs (a borrower that starts later gets what exists already in its input, the rest by signal).
 * Signals batch whatever completed in one workflow task, so a boundary costs a handful of events.
 */
import {
  condition,
  defineSignal,
  getExternalWorkflowHandle,
  setHandler,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { FrameSource, LentOutput } from '../src/common/boundary';
import { SIGNALS } from '../src/common/names';

export const lentSignal = defineSignal<[LentOutput[]]>(SIGNALS.lent);

/** The lending side, in a segment child: lend an output if a later segment reads it. */
export interface Lender {
  lend(id: string, source: FrameSource): void;
  /** Resolves once every lent output has reached the parent (await before the child returns). */
  drained(): Promise<void>;
}

export function lender(lends: string[] | undefined): Lender {
  const wanted = new Set(lends ?? []);
  const outbox: LentOutput[] = [];
  let sending = false;
  let failure: unknown;
  const parentId = workflowInfo().parent?.workflowId;
  const send = async (): Promise<void> => {
    if (sending || !parentId) return;
    sending = true;
    try {
      const parent = getExternalWorkflowHandle(parentId);
      while (outbox.length > 0) await parent.signal(lentSignal, outbox.splice(0));
    } catch (err) {
      failure = err;
    } finally {
      sending = false;
    }
  };
  return {
    lend(id, source) {
      if (!wanted.has(id)) return;
      outbox.push({ id, source });
      void send();
    },
    async drained() {
      if (wanted.size > 0 && !parentId) throw new Error('lent outputs need the job workflow as parent');
      await condition(() => failure !== undefined || (!sending && outbox.length === 0));
      if (failure !== undefined) throw failure;
    },
  };
}

/** The borrowing side, in a segment child: the outputs lent to it, as they arrive. */
export function borrower(initial: LentOutput[] | undefined): (id: string) => Promise<FrameSource> {
  const received = new Map((initial ?? []).map((o) => [o.id, o.source]));
  setHandler(lentSignal, (batch) => {
    for (const o of batch) received.set(o.id, o.source);
  });
  return async (id) => {
    await condition(() => received.has(id));
    return received.get(id)!;
  };
}

/** The relay, in the job workflow. */
export interface Relay {
  /** What a child about to start needs that exists now; its input's `lent`. */
  lentSoFar(needs: string[]): LentOutput[];
  /** The child has started: forward the rest of `needs` as they arrive. */
  started(needs: string[], sentInInput: LentOutput[], handle: ChildWorkflowHandle<never>): void;
  /** Resolves with the first failure to forward (a borrower would otherwise wait forever). */
  failure: Promise<never>;
}

export function relay(): Relay {
  const available = new Map<string, FrameSource>();
  const borrowers: Array<{ needs: string[]; sent: Set<string>; handle: ChildWorkflowHandle<never> }> = [];
  let failed: unknown;
  const forward = (b: (typeof borrowers)[number]): void => {
    const batch = b.needs
      .filter((id) => !b.sent.has(id) && available.has(id))
      .map((id) => ({ id, source: available.get(id)! }));
    if (batch.length === 0) return;
    for (const o of batch) b.sent.add(o.id);
    b.handle.signal(lentSignal, batch).catch((err: unknown) => {
      failed ??= err;
    });
  };
  setHandler(lentSignal, (batch) => {
    for (const o of batch) available.set(o.id, o.source);
    for (const b of borrowers) forward(b);
  });
  const failure = condition(() => failed !== undefined).then((): never => {
    throw failed;
  });
  failure.catch(() => undefined); // raced by the job workflow; never an unhandled rejection
  return {
    lentSoFar: (needs) =>
      needs.filter((id) => available.has(id)).map((id) => ({ id, source: available.get(id)! })),
    started(needs, sentInInput, handle) {
      if (needs.length === 0) return;
      const b = { needs, sent: new Set(sentInInput.map((o) => o.id)), handle };
      borrowers.push(b);
      forward(b); // what arrived while the child was starting
    },
    failure,
  };
}
