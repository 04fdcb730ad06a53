/**
 * The run report's critical path (docs/observability.md#critical-path): the chain of activities that
 * determined when the job ended. It walks back from the activity that finished last; at each step the
 * predecessor is the activity, among those the current one waited for, whose end most closely
 * precedes the current one's scheduling: the last input to arrive is the one that let it start.
 *
 * What an activity waited for comes from the artifacts themselves: its input names the keys it reads
 * (the keyframe chain's previous keyframes, an interpolation window's keyframes or quarter-axis
 * latents, a decode window's latents, a tile's decoded frames, a clip's tiles, the stitch's clips) and
 * its result the key it wrote. Two waits are not artifacts: the keyframe chain and every segment child
 * start only once the speed probes have answered (workflows/job.ts, chain.ts), so the probes count as
 * inputs of keyframes and of whatever reads keyframes. An activity with no known input (the first
 * ones, or any whose payloads are encrypted) falls back to time order: the activity that ended last
 * before it was scheduled.
 */

/** What the walk needs of an activity row (ActivityRow in report.ts). */
export interface PathRow {
  workflowId: string;
  activityId: string;
  type: string;
  stage: string;
  worker?: string;
  scheduled: number;
  started?: number;
  ended?: number;
  /** Artifact keys its input reads (plain JSON payloads only). */
  reads?: string[];
  /** The artifact key its result names. */
  wrote?: string;
}

export interface CriticalStep {
  workflowId: string;
  activityId: string;
  type: string;
  stage: string;
  worker?: string;
  started: number;
  ended: number;
  runSeconds: number;
  /** Idle time on the path before this activity: the previous step's end (or the job's start) → its start. */
  gapSeconds: number;
  /** How it was linked to the previous step: an artifact it read, a probe it waited for, or time order. */
  via: 'start' | 'artifact' | 'probe' | 'order';
}

export interface CriticalPath {
  steps: CriticalStep[];
  /** Job start → the last activity's end. */
  totalSeconds: number;
  runSeconds: number;
  /** Sum of the steps' gaps: scheduling, queue waits and workflow-task latency on the path. */
  idleSeconds: number;
  /** The last activity's end → the job's close (or its wall time so far). */
  tailSeconds: number;
}

/** Stage names (src/observability/metrics.ts ACTIVITY_STAGES) that the walk treats specially. */
const PROBE_STAGE = 'measure';
const KEYFRAME_STAGE = 'keyframe';
const round = (x: number) => Math.round(x * 1000) / 1000;

type Timed = PathRow & { started: number; ended: number };

/** The critical path of a job's activities; `wallSeconds` is the job's start → close (or now). */
export function criticalPath(rows: PathRow[], wallSeconds: number): CriticalPath | undefined {
  const timed = rows.filter((r): r is Timed => r.started !== undefined && r.ended !== undefined);
  if (timed.length === 0) return undefined;
  const producer = new Map<string, Timed>();
  for (const r of timed) if (r.wrote) producer.set(r.wrote, r);
  const probes = timed.filter((r) => r.stage === PROBE_STAGE);

  /** The candidates `r` waited for, each with how it is known. */
  const inputsOf = (r: Timed): Array<{ row: Timed; via: CriticalStep['via'] }> => {
    const made = (r.reads ?? []).map((k) => producer.get(k)).filter((p): p is Timed => !!p && p !== r);
    if (made.length === 0) return [];
    const found: Array<{ row: Timed; via: CriticalStep['via'] }> = made.map((row) => ({
      row,
      via: 'artifact',
    }));
    if (r.stage === KEYFRAME_STAGE || made.some((p) => p.stage === KEYFRAME_STAGE))
      for (const row of probes) found.push({ row, via: 'probe' });
    return found;
  };
  /**
   * The candidate whose end most closely precedes `r`'s scheduling. Both are server event times, rounded
   * alike (report.ts), so an enabler never ends after what it enabled was scheduled.
   */
  const enabler = (r: Timed, candidates: Array<{ row: Timed; via: CriticalStep['via'] }>) => {
    let best: { row: Timed; via: CriticalStep['via'] } | undefined;
    for (const c of candidates)
      if (c.row !== r && c.row.ended <= r.scheduled && (!best || c.row.ended > best.row.ended)) best = c;
    return best;
  };

  // The end: the activity that finished last (the earliest-scheduled one when several tie).
  let current = timed.reduce((a, b) =>
    b.ended > a.ended || (b.ended === a.ended && b.scheduled < a.scheduled) ? b : a,
  );
  const chain: Array<{ row: Timed; via: CriticalStep['via'] }> = [{ row: current, via: 'start' }];
  const onPath = new Set<Timed>([current]);
  for (;;) {
    const known = inputsOf(current);
    const next =
      enabler(current, known) ??
      enabler(
        current,
        timed.map((row) => ({ row, via: 'order' as const })),
      );
    if (!next || onPath.has(next.row)) break;
    chain[0].via = next.via;
    chain.unshift({ row: next.row, via: 'start' });
    onPath.add(next.row);
    current = next.row;
  }
  let previousEnd = 0;
  const steps = chain.map(({ row, via }, i): CriticalStep => {
    const step: CriticalStep = {
      workflowId: row.workflowId,
      activityId: row.activityId,
      type: row.type,
      stage: row.stage,
      ...(row.worker ? { worker: row.worker } : {}),
      started: row.started,
      ended: row.ended,
      runSeconds: round(row.ended - row.started),
      gapSeconds: round(Math.max(0, row.started - previousEnd)),
      via: i === 0 ? 'start' : via,
    };
    previousEnd = row.ended;
    return step;
  });
  const last = steps[steps.length - 1];
  return {
    steps,
    totalSeconds: round(last.ended),
    runSeconds: round(steps.reduce((a, s) => a + s.runSeconds, 0)),
    idleSeconds: round(steps.reduce((a, s) => a + s.gapSeconds, 0)),
    tailSeconds: round(Math.max(0, wallSeconds - last.ended)),
  };
}
