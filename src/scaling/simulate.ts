/**
 * A discrete-event simulator of the cluster vldm runs on, to compare scaling policies on a trace:
 * pools of pods that are billed from the moment they get a node, start in `coldStartSeconds`, run one
 * activity at a time, are preempted (spot, with notice) and stay unschedulable during spot shortages;
 * jobs whose activities follow the real plan (planJob) and the workflows' order (keyframe chain;
 * per segment: interpolation pass 0, pass 1, decode, upscale, encode; then stitch). Every
 * `controlIntervalSeconds` the policy sees what the real scaler would see (ScalerInput) and sets each
 * pool's replica count; scale-downs remove pods the way a ReplicaSet does (unscheduled, then
 * not-ready, then the most recently ready), and a removed worker's running activity gets the shutdown
 * grace, then resumes elsewhere from its last checkpoint.
 *
 * This module runs the event loop and routes each event to the part that owns it (src/scaling/simulator):
 * the clock and event queue (events.ts), pods and their bill (cluster.ts), task queues and dispatch
 * (dispatch.ts), the jobs' progress through their stages (jobs.ts), and the report (results.ts).
 */
import type { ScalerInput } from './decide';
import { Cluster, spotShortages } from './simulator/cluster';
import { Dispatcher } from './simulator/dispatch';
import { Timeline } from './simulator/events';
import { Jobs } from './simulator/jobs';
import { summarize, type SimResult } from './simulator/results';
import { traceJobs, type Trace, type TraceJob } from './trace';

export type { JobOutcome, PoolUsage, SimResult } from './simulator/results';

/** A scaling policy as the simulator drives it: observations in, replicas per pool out. */
export interface SimPolicy {
  readonly name: string;
  decide(input: ScalerInput): Record<string, number>;
}

/** Simulated time runs out this long after the arrival window, whatever is unfinished. Seconds. */
const OVERTIME_SECONDS = 48 * 3600;

export function simulate(trace: Trace, policy: SimPolicy, jobsIn: TraceJob[] = traceJobs(trace)): SimResult {
  const horizon = trace.horizonHours * 3600;
  const stopAt = horizon + OVERTIME_SECONDS;
  const timeline = new Timeline();
  const cluster = new Cluster(trace, timeline);
  const dispatch = new Dispatcher(trace, timeline, cluster);
  const jobs = new Jobs(trace, timeline, dispatch, jobsIn.length);

  for (const [i, j] of jobsIn.entries()) timeline.at(j.arrival, { kind: 'arrive', job: j, index: i });
  for (const [a, b] of spotShortages(trace, stopAt)) {
    timeline.at(a, { kind: 'shortage', on: true });
    timeline.at(b, { kind: 'shortage', on: false });
  }
  timeline.at(0, { kind: 'tick' });

  for (let e = timeline.next(stopAt); e; e = timeline.next(stopAt)) {
    switch (e.kind) {
      case 'arrive':
        jobs.arrive(e.job, e.index);
        break;
      case 'shortage':
        cluster.setShortage(e.on);
        break;
      case 'ready':
        if (cluster.markReady(e.pod, e.epoch)) dispatch.pull(e.pod);
        break;
      case 'done': {
        const pod = e.pod;
        if (pod.removed || e.epoch !== pod.epoch || !pod.task) break;
        jobs.complete(dispatch.release(pod));
        if (pod.state === 'draining') cluster.removePod(pod);
        else {
          pod.idleSince = timeline.now;
          dispatch.pull(pod);
        }
        break;
      }
      case 'notice':
        cluster.preempt(e.pod);
        break;
      case 'kill':
        if (e.pod.removed) break;
        dispatch.interrupt(e.pod);
        cluster.removePod(e.pod);
        break;
      case 'tick': {
        const now = timeline.now;
        const input: ScalerInput = {
          now,
          config: trace.cluster,
          queues: dispatch.observe(),
          jobs: jobs.observe(),
          pools: cluster.observe(),
        };
        cluster.scale(policy.decide(input));
        if (!(jobs.allDone() && now >= horizon))
          timeline.at(now + trace.controlIntervalSeconds, { kind: 'tick' });
        break;
      }
    }
    if (e.kind === 'tick' && jobs.allDone() && timeline.now >= horizon) break;
  }
  // The run ends when the arrival window is over and the last job is done (or time ran out): pods
  // still up are billed until then, not until the control round that noticed it.
  const lastDone = jobs.finished.reduce((a, j) => Math.max(a, j.done ?? 0), 0);
  const end =
    jobs.finished.length === jobsIn.length
      ? Math.min(timeline.now, Math.max(horizon, lastDone))
      : timeline.now;
  timeline.now = end;
  cluster.removeAll();
  return summarize({
    policy: policy.name,
    jobs: jobsIn.length,
    arrived: jobs.all,
    finished: jobs.finished.length,
    pools: cluster.usage(),
    lostWorkSeconds: dispatch.lostWorkSeconds,
    end,
  });
}
