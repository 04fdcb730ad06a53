/**
 * EMULATED accelerators for `vldm bench` (docs/performance.md). A worker process started by the bench
 * holds `slots` emulated accelerators; every model call takes one slot, runs the real ONNX call on the
 * CPU and then holds the slot until the call's calibrated duration from the speed table has passed (×
 * the dilation). So the orchestration, the artifacts and the bytes are real, and only the accelerator's
 * speed is emulated. Slots go to waiting calls by stage, upstream first (the keyframe chain is the
 * critical path, and earlier stages feed later ones), FIFO within a stage. While a keyframe activity
 * runs in the process, one slot is kept for it: a render call does not take the last free slot, so the
 * chain's calls never queue behind a tile's (which holds its slot for seconds), as the chart's own
 * keyframe pool keeps a GPU for the chain (charts/vldm/values.yaml, pools.keyframe).
 *
 * Per activity attempt the process appends one JSON line to the trace file: when it was scheduled,
 * started and completed, its first and last model call, and the emulated accelerator time it used.
 * The bench reads these lines for the orchestration overhead and the lower bound.
 *
 * With `hold: false` the same class is a ledger instead (src/bench/model-compute.ts, in `vldm
 * generate`): no slots, no waits, the calls run as they come, and each attempt's record counts the
 * table's time for its calls, so that `lowerBound` gives a real job's model compute.
 */
import { appendFileSync } from 'node:fs';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { Role } from '../models/contract';
import { UserError } from '../common/errors';
import { TASK_QUEUES } from '../common/names';
import { emulatedCallMs, type SpeedTable } from './speed-table';

/** The worker setting that turns emulation on: JSON of AcceleratorSettings (set by the bench only). */
export const ACCELERATOR_ENV = 'VLDM_EMULATED_ACCELERATORS';

export interface AcceleratorSettings {
  /** Emulated accelerators in this process. */
  slots: number;
  table: SpeedTable;
  /** Every emulated duration × this. */
  dilation: number;
  /** JSON-lines file for the per-attempt records. */
  traceFile: string;
  /**
   * false: a ledger, not an accelerator. Calls run at once and are not held: each records the
   * table's time for its output (this machine's uncontended speed, measured by
   * src/bench/model-compute.ts) as its busy time, so that `lowerBound` gives a real job's model
   * compute. `slots` is then unused. @default true
   */
  hold?: boolean;
}

/** Slot order: lower first. */
const ROLE_PRIORITY: Record<Role, number> = {
  keyframe: 0,
  keyframe_image: 0,
  encoder: 0,
  interpolation: 1,
  decoder: 2,
  upsampler: 3,
  upsampler_image: 3,
};

/** What one activity attempt did on the emulated accelerators. */
export interface AttemptRecord {
  workflowId: string;
  activityId: string;
  activityType: string;
  taskQueue: string;
  attempt: number;
  /** The worker process that ran it. */
  pid: number;
  /** Epoch ms: scheduled (Temporal's clock), started and completed (this host's). */
  scheduledMs: number;
  startedMs: number;
  completedMs: number;
  outcome: 'completed' | 'failed';
  calls: number;
  /** When the first model call asked for a slot, and when the last one ended. */
  firstCallMs?: number;
  lastCallEndMs?: number;
  /** Emulated accelerator time (sum of the calls' calibrated durations, dilated). */
  busyMs: number;
  /** Time the real ONNX calls took on the CPU. */
  realMs: number;
  /** Time spent waiting for a free slot. */
  waitMs: number;
  /** Calls whose real CPU time was longer than their emulated duration (the host was the bottleneck). */
  overruns: number;
}

type Tally = Pick<
  AttemptRecord,
  'calls' | 'firstCallMs' | 'lastCallEndMs' | 'busyMs' | 'realMs' | 'waitMs' | 'overruns'
>;

export function parseAcceleratorSettings(raw: string): AcceleratorSettings {
  let s: AcceleratorSettings;
  try {
    s = JSON.parse(raw) as AcceleratorSettings;
  } catch (err) {
    throw new UserError(`${ACCELERATOR_ENV} is not JSON: ${(err as Error).message}`);
  }
  if (s.hold !== undefined && typeof s.hold !== 'boolean')
    throw new UserError(`${ACCELERATOR_ENV}: hold must be true or false`);
  if (s.hold !== false && (!Number.isInteger(s.slots) || s.slots < 1))
    throw new UserError(`${ACCELERATOR_ENV}: slots must be an integer ≥ 1`);
  if (!(s.dilation > 0)) throw new UserError(`${ACCELERATOR_ENV}: dilation must be > 0`);
  if (typeof s.traceFile !== 'string' || !s.traceFile)
    throw new UserError(`${ACCELERATOR_ENV}: traceFile is required`);
  if (!s.table || typeof s.table.source !== 'string')
    throw new UserError(`${ACCELERATOR_ENV}: table is required`);
  return s;
}

interface Waiter {
  priority: number;
  seq: number;
  /** A call of a keyframe activity (the chain), which may take the kept slot. */
  chain: boolean;
  grant: () => void;
}

export class EmulatedAccelerators {
  private free: number;
  private readonly waiting: Waiter[] = [];
  private seq = 0;
  private readonly attempt = new AsyncLocalStorage<Tally & { chain: boolean }>();
  /** Keyframe activities in flight in this process, and the slots their calls hold now. */
  private chainActive = 0;
  private chainHolding = 0;

  constructor(readonly settings: AcceleratorSettings) {
    this.free = settings.slots;
  }

  /** Slots a render call must leave free: one while the chain runs and none of its calls holds a slot. */
  private kept(): number {
    return this.chainActive > 0 && this.chainHolding === 0 ? 1 : 0;
  }

  private take(chain: boolean): void {
    this.free -= 1;
    if (chain) this.chainHolding += 1;
  }

  /** Grants free slots to waiting calls in order while the head of the queue may have one. */
  private pump(): void {
    while (this.free > 0 && this.waiting.length > 0) {
      const head = this.waiting[0];
      if (!head.chain && this.free <= this.kept()) return;
      this.waiting.shift();
      this.take(head.chain);
      head.grant();
    }
  }

  private acquire(role: Role, chain: boolean): Promise<void> {
    if (this.waiting.length === 0 && this.free > (chain ? 0 : this.kept())) {
      this.take(chain);
      return Promise.resolve();
    }
    return new Promise((grant) => {
      // The chain's calls go first whatever their role (the chain is the job's critical path).
      this.waiting.push({ priority: chain ? -1 : ROLE_PRIORITY[role], seq: this.seq++, chain, grant });
      this.waiting.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
      this.pump();
    });
  }

  private release(chain: boolean): void {
    this.free += 1;
    if (chain) this.chainHolding -= 1;
    this.pump();
  }

  /** Runs one model call on an emulated accelerator: the real call, then the rest of its calibrated time. */
  async call<T extends { shape: number[] }>(role: Role, run: () => Promise<T>): Promise<T> {
    if (this.settings.hold === false) return this.record(role, run);
    const asked = performance.now();
    const askedMs = Date.now();
    const chain = this.attempt.getStore()?.chain ?? false;
    await this.acquire(role, chain);
    const began = performance.now();
    try {
      const out = await run();
      const realMs = performance.now() - began;
      const targetMs = emulatedCallMs(this.settings.table, role, out.shape, this.settings.dilation);
      if (targetMs > realMs) await new Promise((r) => setTimeout(r, targetMs - realMs));
      this.tally(askedMs, Math.max(targetMs, realMs), realMs, began - asked, realMs > targetMs);
      return out;
    } finally {
      this.release(chain);
    }
  }

  /** The ledger's call (`hold: false`): run now, count the table's time. */
  private async record<T extends { shape: number[] }>(role: Role, run: () => Promise<T>): Promise<T> {
    const askedMs = Date.now();
    const began = performance.now();
    const out = await run();
    const realMs = performance.now() - began;
    const targetMs = emulatedCallMs(this.settings.table, role, out.shape, this.settings.dilation);
    this.tally(askedMs, targetMs, realMs, 0, realMs > targetMs);
    return out;
  }

  private tally(askedMs: number, busyMs: number, realMs: number, waitMs: number, overrun: boolean): void {
    const tally = this.attempt.getStore();
    if (!tally) return;
    tally.calls += 1;
    tally.firstCallMs ??= askedMs;
    tally.lastCallEndMs = Date.now();
    tally.busyMs += busyMs;
    tally.realMs += realMs;
    tally.waitMs += waitMs;
    if (overrun) tally.overruns += 1;
  }

  /** The activity interceptor that gives each attempt its tally and writes its record. */
  readonly interceptor: ActivityInterceptorsFactory = (ctx) => ({
    inbound: {
      execute: async (input, next) => {
        const chain = ctx.info.taskQueue === TASK_QUEUES.keyframe;
        const tally: Tally & { chain: boolean } = {
          calls: 0,
          busyMs: 0,
          realMs: 0,
          waitMs: 0,
          overruns: 0,
          chain,
        };
        const startedMs = Date.now();
        let outcome: AttemptRecord['outcome'] = 'failed';
        // From the activity's start, so that a slot is free by the time its first call comes.
        if (chain) this.chainActive += 1;
        try {
          const result = await this.attempt.run(tally, () => next(input));
          outcome = 'completed';
          return result;
        } finally {
          if (chain) {
            this.chainActive -= 1;
            this.pump();
          }
          const { info } = ctx;
          const record: AttemptRecord = {
            workflowId: info.workflowExecution?.workflowId ?? '?',
            activityId: info.activityId,
            activityType: info.activityType,
            taskQueue: info.taskQueue,
            pid: process.pid,
            attempt: info.attempt,
            scheduledMs: info.currentAttemptScheduledTimestampMs,
            startedMs,
            completedMs: Date.now(),
            outcome,
            calls: tally.calls,
            ...(tally.firstCallMs !== undefined ? { firstCallMs: tally.firstCallMs } : {}),
            ...(tally.lastCallEndMs !== undefined ? { lastCallEndMs: tally.lastCallEndMs } : {}),
            busyMs: tally.busyMs,
            realMs: tally.realMs,
            waitMs: tally.waitMs,
            overruns: tally.overruns,
          };
          appendFileSync(this.settings.traceFile, `${JSON.stringify(record)}\n`);
        }
      },
    },
  });
}
