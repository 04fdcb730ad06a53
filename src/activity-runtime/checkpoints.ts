/**
 * Checkpoints inside a sampling activity. Every N DDIM steps the sample x_t is saved to the artifact
 * store under the activity's checkpoint prefix, and its key and step go into the heartbeat (keys and
 * numbers only, never tensors). A retry — after a crash, a kill or a spot preemption — resumes from
 * the newest checkpoint that verifies; because step noise is keyed by step number, the resumed run
 * produces exactly the bytes an undisturbed run would.
 *
 * N ("auto" by default) is chosen so that saving costs at most 5% of the sampling time: a checkpoint
 * is written once the sampling time since the last one is at least 20× the expected cost of a save
 * (measured on this worker's earlier saves). Short activities therefore never checkpoint — redoing
 * them is cheaper — and long ones checkpoint every step or every few steps.
 */
import { decodeTensor } from '../tensors';
import { encodeLatents } from './artifact-format';
import type { ArtifactStore } from '../storage';
import { checkpointResumesTotal, checkpointSavesTotal } from '../observability/metrics';

/** Saving may cost at most this fraction of sampling time. */
export const CHECKPOINT_BUDGET = 0.05;

/** Environment variable fixing the interval in steps ("auto" or a positive integer). */
export const CHECKPOINT_EVERY_ENV = 'VLDM_CHECKPOINT_EVERY';

export type CheckpointEvery = number | 'auto';

export function checkpointEveryFromEnv(env: NodeJS.ProcessEnv = process.env): CheckpointEvery {
  const raw = env[CHECKPOINT_EVERY_ENV];
  if (raw === undefined || raw === '' || raw === 'auto') return 'auto';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${CHECKPOINT_EVERY_ENV} must be "auto" or an integer ≥ 1, got "${raw}"`);
  return n;
}

export interface CheckpointState {
  /** Steps completed. */
  step: number;
  x: Float32Array;
}

/** Expected cost of one save on this worker, in ms: a running average of measured saves. */
let expectedSaveMs = 50;

/** The checkpoints of one sampling loop (one slot of one activity). */
export class SamplingCheckpoints {
  private sinceLastSave = Date.now();
  /** Steps at which a checkpoint was written (for the reliability report). */
  readonly saved: number[] = [];

  constructor(
    private readonly store: ArtifactStore,
    /** e.g. `jobs/<id>/checkpoints/upscale/seg-000-tile0003-<digest>/w0/` */
    readonly prefix: string,
    private readonly every: CheckpointEvery,
    private readonly heartbeat: (details: { checkpoint: string; step: number }) => void,
    /** The stage the saves and resumes are counted under (vldm_checkpoint_*_total). */
    private readonly stage = 'unknown',
  ) {}

  keyOf(step: number): string {
    return `${this.prefix}step-${String(step).padStart(5, '0')}.vldt`;
  }

  /** The newest checkpoint that verifies, or undefined (a corrupt one is dropped by the store). */
  async resume(shape: number[]): Promise<CheckpointState | undefined> {
    const found = (await this.store.list(this.prefix))
      .map((a) => a.key)
      .sort()
      .reverse();
    for (const key of found) {
      const bytes = await this.store.getVerified(key);
      if (!bytes) continue;
      const t = decodeTensor(bytes);
      if (t.shape.join() !== shape.join()) continue;
      const step = Number(/step-(\d+)\.vldt$/.exec(key)?.[1]);
      if (Number.isInteger(step)) {
        this.sinceLastSave = Date.now();
        checkpointResumesTotal.labels({ stage: this.stage }).inc();
        return { step, x: t.data };
      }
    }
    return undefined;
  }

  /**
   * Called after each completed step with the new sample. `force` saves now whatever the interval:
   * the activity is being cancelled (worker shutdown, spot preemption) and will resume elsewhere.
   */
  async afterStep(
    step: number,
    steps: number,
    x: Float32Array,
    shape: number[],
    force = false,
  ): Promise<void> {
    if (step >= steps) return; // the output itself is the final checkpoint
    const periodic =
      this.every === 'auto'
        ? (Date.now() - this.sinceLastSave) * CHECKPOINT_BUDGET >= expectedSaveMs
        : step % this.every === 0;
    const due = force || periodic;
    if (!due) return;
    const t0 = Date.now();
    const key = this.keyOf(step);
    await this.store.put(key, encodeLatents({ shape, data: x }));
    expectedSaveMs = 0.5 * expectedSaveMs + 0.5 * (Date.now() - t0);
    this.saved.push(step);
    checkpointSavesTotal.labels({ stage: this.stage }).inc();
    this.heartbeat({ checkpoint: key, step });
    this.sinceLastSave = Date.now();
  }

  /** Remove this slot's checkpoints once the activity's output is stored. */
  async clear(): Promise<void> {
    for (const a of await this.store.list(this.prefix)) await this.store.delete(a.key);
  }
}
