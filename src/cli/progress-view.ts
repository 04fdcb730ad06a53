/**
 * Progress of a running job in the terminal: one bar per stage. Counts come from NATS events when the
 * event bus is reachable (live, down to the diffusion step) and from the job's `progress` query
 * otherwise (and for the totals). With --json nothing is drawn.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { Client } from '@temporalio/client';
import { STAGES, type Stage } from '../common/progress';
import { subscribeProgress } from '../events';
import { jobStatus } from '../client/jobs';

/** How often the query fallback polls, in ms. */
const POLL_MS = 1_000;

export interface ProgressView {
  /** Resolves when the job is no longer running. */
  finished: Promise<void>;
  /** Stop drawing now (the job may still be running). */
  stop(): Promise<void>;
  /** Where counts came from: "nats" or "query". */
  readonly source: 'nats' | 'query';
}

export async function showProgress(
  client: Client,
  jobId: string,
  natsUrl: string | undefined,
  opts: { draw: boolean; stream?: NodeJS.WritableStream },
): Promise<ProgressView> {
  const bars = opts.draw
    ? new MultiBar(
        {
          format: ' {stage} |{bar}| {value}/{total} {detail}',
          hideCursor: true,
          clearOnComplete: false,
          stream: opts.stream ?? process.stderr,
          noTTYOutput: true,
          notTTYSchedule: 5000,
        },
        Presets.shades_classic,
      )
    : undefined;
  const stageBars = new Map<Stage, SingleBar>();
  const done = new Map<Stage, Set<string>>(STAGES.map((s) => [s, new Set<string>()]));
  const totals = new Map<Stage, number>();
  const detail = new Map<Stage, string>();
  const render = (queryDone?: Record<Stage, number>) => {
    if (!bars) return;
    for (const s of STAGES) {
      const total = totals.get(s) ?? 0;
      const value = Math.min(total, queryDone?.[s] ?? done.get(s)?.size ?? 0);
      let bar = stageBars.get(s);
      if (!bar) stageBars.set(s, (bar = bars.create(total, value, { stage: s.padEnd(13), detail: '' })));
      bar.setTotal(total);
      bar.update(value, { stage: s.padEnd(13), detail: detail.get(s) ?? '' });
    }
  };
  const sub =
    natsUrl && natsUrl !== 'off'
      ? await subscribeProgress(natsUrl, jobId, (e) => {
          if (e.stage === 'job') return;
          const stage: Stage = e.stage;
          if (e.state === 'completed' || e.state === 'reused')
            done.get(stage)?.add(`${e.segment}/${e.window}/${e.tile}/${e.message ?? ''}`);
          if (e.state === 'progress' && e.step !== undefined) {
            detail.set(
              stage,
              `seg ${e.segment ?? '-'}${e.tile !== undefined ? ` tile ${e.tile}` : ''} step ${e.step}/${e.steps}`,
            );
          }
        })
      : undefined;
  const source: 'nats' | 'query' = sub ? 'nats' : 'query';
  let stopped = false;
  const poll = async () => {
    while (!stopped) {
      try {
        const st = await jobStatus(client, jobId);
        if (st.stages) {
          const fromQuery = {} as Record<Stage, number>;
          for (const s of STAGES) {
            totals.set(s, st.stages[s].total);
            fromQuery[s] = st.stages[s].done;
          }
          // The query is authoritative; once the job has ended, draw its final counts.
          render(source === 'query' || st.status !== 'RUNNING' ? fromQuery : undefined);
        }
        if (st.status !== 'RUNNING') break;
      } catch {
        // The job may not be visible yet, or a worker restarts: keep polling.
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  const polling = poll();
  return {
    source,
    finished: polling,
    async stop() {
      stopped = true;
      await polling;
      await sub?.close();
      bars?.stop();
    },
  };
}
