/**
 * What a worker process's `/healthz` and `/readyz` know about its Temporal workers, sampled once a
 * second from the SDK's own status (no extra calls to Temporal): the last time each worker had a
 * poll outstanding or a task in flight, whether it runs, and its slots in use (also exported as
 * vldm_worker_slots_used).
 */
import type { Worker } from '@temporalio/worker';
import type { CheckFn } from './health';
import { slotsMax, slotsUsed } from './metrics';

interface Tracked {
  queue: string;
  worker: Worker;
  orchestration: boolean;
  lastActive: number;
}

export class WorkerHealth {
  #tracked: Tracked[] = [];
  #timer: NodeJS.Timeout | undefined;
  #modelsLoaded = false;
  #started = false;

  modelsLoaded(): void {
    this.#modelsLoaded = true;
  }

  /** Start watching the workers (once they are all created). */
  watch(workers: Array<{ queue: string; worker: Worker; orchestration: boolean; slots: number }>): void {
    const now = Date.now();
    this.#tracked = workers.map((w) => ({ ...w, lastActive: now }));
    for (const w of workers) slotsMax.labels({ queue: w.queue }).set(w.slots);
    this.#started = true;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 1_000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sample(): void {
    const now = Date.now();
    for (const t of this.#tracked) {
      if (t.worker.getState() !== 'RUNNING') continue;
      const s = t.worker.getStatus();
      const inFlight = t.orchestration ? s.numInFlightWorkflowActivations : s.numInFlightActivities;
      slotsUsed.labels({ queue: t.queue }).set(inFlight);
      const polling = t.orchestration ? s.hasOutstandingWorkflowPoll : s.hasOutstandingActivityPoll;
      if (polling || inFlight > 0) t.lastActive = now;
    }
  }

  /** Liveness: every worker polled or ran a task within `windowMs` (none yet while models load). */
  liveCheck(windowMs: number): CheckFn {
    return () => {
      const now = Date.now();
      const stale = this.#tracked.filter(
        (t) => t.worker.getState() !== 'RUNNING' || now - t.lastActive > windowMs,
      );
      return {
        name: 'polling',
        ok: stale.length === 0,
        detail: !this.#started
          ? 'workers not started yet (models loading)'
          : stale.length === 0
            ? `every worker polled or ran a task in the last ${windowMs / 1000} s`
            : `no poll and no task for over ${windowMs / 1000} s, or stopped: ${stale
                .map(
                  (t) => `${t.queue} (${t.worker.getState()}, ${((now - t.lastActive) / 1000).toFixed(0)} s)`,
                )
                .join(', ')}`,
      };
    };
  }

  /** Readiness: models loaded and every worker running with no failed poller; never asks Temporal. */
  readyChecks(): CheckFn[] {
    return [
      () => ({
        name: 'models',
        ok: this.#modelsLoaded,
        detail: this.#modelsLoaded ? 'loaded' : 'loading',
      }),
      () => {
        const bad = this.#tracked.filter((t) => {
          if (t.worker.getState() !== 'RUNNING') return true;
          const s = t.worker.getStatus();
          return (t.orchestration ? s.workflowPollerState : s.activityPollerState) === 'FAILED';
        });
        return {
          name: 'workers',
          ok: this.#started && bad.length === 0,
          detail: !this.#started
            ? 'not started yet'
            : bad.length === 0
              ? `running: ${this.#tracked.map((t) => t.queue).join(', ')}`
              : `not running: ${bad.map((t) => `${t.queue} (${t.worker.getState()})`).join(', ')}`,
        };
      },
    ];
  }
}
