/**
 * The two small records that say whether a job is running or finished, so retention never deletes a
 * running job's artifacts: `prepareJob` writes `jobs/<id>/job/started.json` with a fresh run token
 * when a run begins, `stitchJob` writes `jobs/<id>/job/finished.json` carrying that token once the
 * output is stored. A job is finished only when both tokens match: a rerun of a finished job (same id)
 * counts as running from its prepare on. They are the one exception to "artifacts are immutable":
 * each run rewrites them (docs/artifacts.md, "Retention").
 */
import { randomUUID } from 'node:crypto';
import { jobPrefix } from '../common/names';
import type { ArtifactStore } from './types';

export const STARTED_MARKER = 'job/started.json';
export const FINISHED_MARKER = 'job/finished.json';

export interface StartedMarker {
  jobId: string;
  run: string;
  startedAt: string;
}

export interface FinishedMarker {
  jobId: string;
  /** The run token of the started marker this run saw (null: the run began before markers existed). */
  run: string | null;
  finishedAt: string;
  output: { key: string; sha256: string; bytes: number };
}

export type JobState =
  | { state: 'finished'; finishedAt: Date; marker: FinishedMarker }
  | { state: 'running'; startedAt: Date }
  | { state: 'unknown' };

export const startedKey = (jobId: string) => `${jobPrefix(jobId)}${STARTED_MARKER}`;
export const finishedKey = (jobId: string) => `${jobPrefix(jobId)}${FINISHED_MARKER}`;

async function readJson<T>(store: ArtifactStore, key: string): Promise<T | undefined> {
  const bytes = await store.getVerified(key);
  if (!bytes) return undefined;
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  } catch {
    return undefined; // unreadable: treated as absent, which never makes a job look finished
  }
}

const put = (store: ArtifactStore, key: string, value: unknown) =>
  store.put(key, Buffer.from(JSON.stringify(value, null, 2) + '\n'), { contentType: 'application/json' });

/** A run of the job begins: from now on it is running until this run's stitch says otherwise. */
export async function markStarted(store: ArtifactStore, jobId: string, now = new Date()): Promise<void> {
  const marker: StartedMarker = { jobId, run: randomUUID(), startedAt: now.toISOString() };
  await put(store, startedKey(jobId), marker);
}

/** The run's output is stored: the job is finished, and retention counts from now. */
export async function markFinished(
  store: ArtifactStore,
  jobId: string,
  output: FinishedMarker['output'],
  now = new Date(),
): Promise<void> {
  const started = await readJson<StartedMarker>(store, startedKey(jobId));
  const marker: FinishedMarker = {
    jobId,
    run: started?.run ?? null,
    finishedAt: now.toISOString(),
    output,
  };
  await put(store, finishedKey(jobId), marker);
}

/** Whether the job's latest run finished (and when), is running (or died), or left no markers. */
export async function jobState(store: ArtifactStore, jobId: string): Promise<JobState> {
  const [started, finished] = await Promise.all([
    readJson<StartedMarker>(store, startedKey(jobId)),
    readJson<FinishedMarker>(store, finishedKey(jobId)),
  ]);
  const finishedAt = finished ? new Date(finished.finishedAt) : undefined;
  if (
    finished &&
    finishedAt &&
    !Number.isNaN(finishedAt.getTime()) &&
    finished.run === (started?.run ?? null)
  )
    return { state: 'finished', finishedAt, marker: finished };
  if (started) return { state: 'running', startedAt: new Date(started.startedAt) };
  return { state: 'unknown' };
}
