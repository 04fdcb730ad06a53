/**
 * The simulated Temporal matching: one priority task queue per queue role, a task handed to the pod
 * that has waited longest, a free pod taking the best head among its queues (lowest priority key, then
 * oldest), and a task whose pod went away resumed elsewhere from its last checkpoint. Keeps the rates
 * and counts the scaler reads from Temporal.
 */
import type { QueueRole } from '../../common/names';
import { STAGE_QUEUE, type QueueObservation } from '../decide';
import type { Trace } from '../trace';
import type { Cluster } from './cluster';
import type { Timeline } from './events';
import type { Pod, Task } from './model';
import { TaskQueue } from './task-queue';

/** Queue statistics average over this window, like Temporal's add and dispatch rates. Seconds. */
const RATE_WINDOW = 30;

export class Dispatcher {
  readonly #trace: Trace;
  readonly #timeline: Timeline;
  readonly #cluster: Cluster;
  readonly #roles: QueueRole[];
  readonly #queues: Map<QueueRole, TaskQueue>;
  /** When tasks were added to, and dispatched from, each queue within the rate window. */
  readonly #added: Map<QueueRole, number[]>;
  readonly #dispatched: Map<QueueRole, number[]>;
  readonly #running: Map<QueueRole, number>;
  /** Seconds of work redone because a pod went away mid-activity (since the last checkpoint). */
  lostWorkSeconds = 0;

  constructor(trace: Trace, timeline: Timeline, cluster: Cluster) {
    this.#trace = trace;
    this.#timeline = timeline;
    this.#cluster = cluster;
    const roles = [...new Set(trace.cluster.pools.flatMap((p) => p.queues))];
    this.#roles = roles;
    this.#queues = new Map(roles.map((q) => [q, new TaskQueue()]));
    this.#added = new Map(roles.map((q) => [q, []]));
    this.#dispatched = new Map(roles.map((q) => [q, []]));
    this.#running = new Map(roles.map((q) => [q, 0]));
  }

  /** Queues the task and hands it to an idle pod when one serves its queue. */
  enqueue(task: Task): void {
    const now = this.#timeline.now;
    const q = STAGE_QUEUE[task.stage];
    task.queuedAt = now;
    (this.#queues.get(q) as TaskQueue).push(task);
    (this.#added.get(q) as number[]).push(now);
    const best = this.#cluster.longestIdle(q);
    if (best) this.pull(best);
  }

  /** A ready, idle pod takes the best head among its queues and starts on it. */
  pull(pod: Pod): void {
    if (pod.state !== 'ready' || pod.task) return;
    let from: TaskQueue | undefined;
    let role: QueueRole | undefined;
    for (const q of pod.pool.queues) {
      const tq = this.#queues.get(q) as TaskQueue;
      const head = tq.peek();
      const cur = from?.peek();
      if (
        head &&
        (!cur ||
          head.priority < cur.priority ||
          (head.priority === cur.priority && head.queuedAt < cur.queuedAt))
      ) {
        from = tq;
        role = q;
      }
    }
    if (!from || !role) return;
    const now = this.#timeline.now;
    const task = from.shift() as Task;
    pod.task = task;
    pod.taskStart = now;
    this.#running.set(role, (this.#running.get(role) ?? 0) + 1);
    (this.#dispatched.get(role) as number[]).push(now);
    this.#timeline.at(now + task.work / pod.pool.speedFactor, { kind: 'done', pod, epoch: pod.epoch });
  }

  /** Takes the running task off the pod (its activity ended or was stopped), counting the busy time. */
  release(pod: Pod): Task {
    const task = pod.task as Task;
    const q = STAGE_QUEUE[task.stage];
    this.#cluster.recordBusy(pod);
    pod.task = undefined;
    this.#running.set(q, (this.#running.get(q) ?? 0) - 1);
    return task;
  }

  /** Stops the pod's activity: the work since its last checkpoint is lost, the rest resumes elsewhere. */
  interrupt(pod: Pod): void {
    if (!pod.task) return;
    const checkpoint = this.#trace.checkpointSeconds;
    const done = (this.#timeline.now - pod.taskStart) * pod.pool.speedFactor;
    const kept = Math.floor(done / checkpoint) * checkpoint;
    const task = this.release(pod);
    this.lostWorkSeconds += done - kept;
    task.work = Math.max(task.work - kept, 1e-3);
    pod.epoch += 1;
    this.enqueue(task);
  }

  /** What the scaler sees of each queue; forgets adds and dispatches older than the rate window. */
  observe(): Partial<Record<QueueRole, QueueObservation>> {
    const now = this.#timeline.now;
    const qs: Partial<Record<QueueRole, QueueObservation>> = {};
    for (const q of this.#roles) {
      const tq = this.#queues.get(q) as TaskQueue;
      for (const m of [this.#added, this.#dispatched]) {
        const list = m.get(q) as number[];
        let k = 0;
        while (k < list.length && list[k] <= now - RATE_WINDOW) k++;
        if (k) list.splice(0, k);
      }
      qs[q] = {
        backlog: tq.length,
        backlogAgeSeconds: tq.length ? now - (tq.oldest() as Task).queuedAt : 0,
        addRate: (this.#added.get(q) as number[]).length / RATE_WINDOW,
        dispatchRate: (this.#dispatched.get(q) as number[]).length / RATE_WINDOW,
        running: this.#running.get(q) ?? 0,
      };
    }
    return qs;
  }
}
