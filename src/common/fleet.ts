/**
 * Which workers may serve a job: the artifact store and the model pack it was submitted with. Task
 * queues alone do not say: every worker polling the queues of a Temporal namespace takes any job's
 * tasks, and one with another store would write the job's artifacts where the job never looks
 * (docs/reliability.md, "Which workers serve a job"). Pure: the job spec (imported by workflows)
 * carries a JobFleet.
 */

/** What a job was submitted with. Short and free of secrets: it travels in every activity's input. */
export interface JobFleet {
  /**
   * The submitting client's store (`ArtifactStore.identity`: `folder:/abs/path` or `s3://bucket/prefix`).
   * Absent when the client named none (`vldm submit` without --store): any store's workers serve it.
   */
  store?: string;
  /** Digest of the model pack the client checked the job against. */
  pack: string;
}

/** Hex digits of a pack digest shown in messages (the full digest is in the job spec). */
const SHOWN_DIGEST = 12;

/** `store folder:/x (pack 0123456789ab)`, one side of a wrong-fleet message. */
export function fleetText(f: { store?: string; pack?: string }): string {
  const pack = f.pack ? `pack ${f.pack.slice(0, SHOWN_DIGEST)}` : 'pack not loaded yet';
  return `store ${f.store ?? '(any)'} (${pack})`;
}

/**
 * Whether a worker with `own` may serve a job with `job`: the same store (when the job names one) and
 * the same pack digest (when the worker already knows its pack at the job's pack location).
 */
export function fleetMismatch(
  job: JobFleet,
  own: { store: string; pack?: string },
): 'store' | 'pack' | undefined {
  if (job.store !== undefined && job.store !== own.store) return 'store';
  if (own.pack !== undefined && own.pack !== job.pack) return 'pack';
  return undefined;
}

/** The refusal, naming both sides and what to do. */
export function wrongFleetMessage(
  jobId: string,
  job: JobFleet,
  own: { store: string; pack?: string },
): string {
  return (
    `this worker serves ${fleetText(own)}, but job ${jobId} was submitted with ${fleetText(job)}: ` +
    `its artifacts would land where the job never looks. Run the job's workers with its store and pack ` +
    `(--store, --pack), or give each fleet its own Temporal namespace`
  );
}
