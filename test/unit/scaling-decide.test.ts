/**
 * The decision function, table-driven: each row is an observed situation and the replica counts the
 * policy must choose, with the arithmetic of docs/scaling.md worked out in the row's comment.
 * Fixture: keyframe 60 s, upscale 30 s, media 5 s per activity; cold start 100 s on GPU pools; no
 * deadline margin. Tails: upscale is followed by 2 media activities (10 s), keyframe by upscale and
 * 2 media (40 s; interpolation and decode have no pool here).
 */
import { describe, expect, it } from 'vitest';
import {
  decide,
  type JobObservation,
  type PoolObservation,
  type QueueObservation,
  type ScalerMemory,
} from '../../src/scaling/decide';
import { parsePoolsConfig, type PoolsConfig } from '../../src/scaling/pools';
import type { QueueRole } from '../../src/common/names';

const NOW = 1_000_000;

function config(over: Record<string, unknown> = {}): PoolsConfig {
  const gpu = { gpusPerPod: 1, coldStartSeconds: 100 };
  return parsePoolsConfig({
    maxPricePerHour: 100,
    secondsPerActivity: { keyframe: 60, upscale: 30, media: 5 },
    deadlineMarginSeconds: 0,
    // Draining is tested on its own row; elsewhere it is pushed out of the way of the deadline math.
    drainColdStarts: 1000,
    pools: [
      {
        name: 'kf-spot',
        deployment: 'w-kf-spot',
        queues: ['keyframe'],
        spot: true,
        pricePerHour: 1,
        maxReplicas: 4,
        ...gpu,
      },
      {
        name: 'kf-od',
        deployment: 'w-kf-od',
        queues: ['keyframe'],
        spot: false,
        pricePerHour: 3,
        maxReplicas: 4,
        ...gpu,
      },
      {
        name: 'up-spot',
        deployment: 'w-up-spot',
        queues: ['upscale'],
        spot: true,
        pricePerHour: 1,
        maxReplicas: 10,
        ...gpu,
      },
      {
        name: 'up-od',
        deployment: 'w-up-od',
        queues: ['upscale'],
        spot: false,
        pricePerHour: 3,
        maxReplicas: 10,
        ...gpu,
      },
      {
        name: 'media',
        deployment: 'w-media',
        queues: ['media'],
        gpusPerPod: 0,
        spot: false,
        pricePerHour: 0.1,
        coldStartSeconds: 10,
        minReplicas: 1,
        maxReplicas: 4,
      },
    ],
    ...over,
  });
}

const ready = (n: number): PoolObservation => ({
  replicas: n,
  ready: n,
  pending: 0,
  unschedulable: 0,
  oldestUnschedulableSeconds: 0,
});
const queued = (backlog: number, running = 0): QueueObservation => ({
  backlog,
  backlogAgeSeconds: 0,
  running,
});
const job = (
  remaining: Partial<Record<QueueRole, number>>,
  dueIn?: number,
  startedAgo = 10,
): JobObservation => ({
  jobId: 'j1',
  startedAt: NOW - startedAgo,
  remaining,
  ...(dueIn !== undefined ? { deadline: NOW + dueIn } : {}),
});
const remember = (pool: string, agoSeconds: number, replicas: number): ScalerMemory => ({
  pools: { [pool]: { recommendations: [{ at: NOW - agoSeconds, replicas }] } },
});

interface Row {
  name: string;
  queues?: Partial<Record<QueueRole, QueueObservation>>;
  jobs?: JobObservation[];
  pools?: Record<string, PoolObservation>;
  memory?: ScalerMemory;
  config?: PoolsConfig;
  expect: Record<string, number>;
  reason?: [string, RegExp];
}

const rows: Row[] = [
  {
    name: 'idle: every GPU pool at zero, the CPU pool at its minimum',
    memory: { pools: {} },
    expect: { 'kf-spot': 0, 'kf-od': 0, 'up-spot': 0, 'up-od': 0, media: 1 },
  },
  {
    // 5 tasks, no job known: due a default hour after queued; W = 150 pod-s ⇒ needs 0.04 pod ⇒ 1.
    name: 'backlog on an empty queue: one spot pod',
    queues: { upscale: queued(5) },
    expect: { 'up-spot': 1, 'up-od': 0 },
  },
  {
    // W = 100 × 30 = 3000 pod-s, T = 1010 − 10 = 1000 s, new pods work T − c = 900 s ⇒ 3.33 ⇒ 4.
    name: 'a deadline sizes the pool: W / (T − c)',
    jobs: [job({ upscale: 100 }, 1010)],
    expect: { 'up-spot': 4, 'up-od': 0 },
    reason: ['up-spot', /needs 3\.3 pod\(s\) for job j1 due in 1010 s/],
  },
  {
    // Same work, no deadline: due 3600 s after start ⇒ T = 3580 s ⇒ 3000 / 3480 = 0.86 ⇒ 1.
    name: 'without a deadline the same work gets the cheapest pace',
    jobs: [job({ upscale: 100 })],
    expect: { 'up-spot': 1 },
  },
  {
    // drainColdStarts 3: the 3000 pod-s are done within 4 c = 400 s, 300 s per new pod ⇒ 10 pods.
    name: 'known work is drained within a few cold starts, deadline or not',
    config: config({ drainColdStarts: 3 }),
    jobs: [job({ upscale: 100 })],
    expect: { 'up-spot': 10, 'up-od': 0 },
    reason: ['up-spot', /draining 100 task\(s\) \(queued, running or still to come\) within 3 cold starts/],
  },
  {
    // 2 ready pods, T = 1000: r·T = 2000 < 3000 ⇒ n = 2 + 1000 / 900 = 3.11 ⇒ 4 (2 kept, 2 new).
    name: 'queued work that outlasts a cold start adds pods to the ready ones',
    jobs: [job({ upscale: 100 }, 1010)],
    queues: { upscale: queued(98, 2) },
    pools: { 'up-spot': ready(2) },
    expect: { 'up-spot': 4 },
  },
  {
    // 2 ready pods do W = 180 pod-s within T = 100 s (r·T = 200): no pod would be ready in time to help.
    name: 'work the ready pods finish before a cold start adds nothing',
    jobs: [job({ upscale: 6 }, 110)],
    queues: { upscale: queued(4, 2) },
    pools: { 'up-spot': ready(2) },
    expect: { 'up-spot': 2, 'up-od': 0 },
  },
  {
    // T = 80 s < c + s = 130 s and r·T = 160 < W = 180: lost; best effort T' = 200 s ⇒ n = 0.9 ⇒ keep 2.
    name: 'a deadline no pod can meet any more is finished best-effort, not with a burst',
    jobs: [job({ upscale: 6 }, 90)],
    queues: { upscale: queued(4, 2) },
    pools: { 'up-spot': ready(2) },
    expect: { 'up-spot': 2, 'up-od': 0 },
    reason: ['up-spot', /1 deadline\(s\) out of reach/],
  },
  {
    // 1000 tasks in 1000 s would take 33 pods; spot has 10 and on-demand is not for this: given up.
    name: 'a deadline the pools cannot meet even at their maximum is given up',
    jobs: [job({ upscale: 1000 }, 1010)],
    expect: { 'up-spot': 10, 'up-od': 0 },
    reason: ['up-spot', /out of reach/],
  },
  {
    // Two jobs of the same priority key (both due within 10–30 min: key 2). The big one started
    // first: its 3000 pod-s are ahead in the FIFO order within the key, so the small job's 300 pod-s
    // due in 1000 s need (3000 + 300) / 900 = 3.7 ⇒ 4 pods, not 1.
    name: 'work ahead in the queue (same priority key, queued first) counts against a later deadline',
    jobs: [
      { jobId: 'big', startedAt: NOW - 100, deadline: NOW + 1500, remaining: { upscale: 100 } },
      { jobId: 'small', startedAt: NOW - 10, deadline: NOW + 1010, remaining: { upscale: 10 } },
    ],
    expect: { 'up-spot': 4 },
  },
  {
    // The big job has no deadline (key 5), the small one is due in 1010 s (key 2): Temporal
    // dispatches the small one's tasks first, so only its own 300 pod-s count: 300 / 900 ⇒ 1. The big
    // one, due an hour after its start (3490 s left), follows: (3000 + 300) / 3390 = 0.97 ⇒ 1.
    name: 'work of a lower priority queued earlier does not hold up a deadline',
    jobs: [
      { jobId: 'big', startedAt: NOW - 100, remaining: { upscale: 100 } },
      { jobId: 'small', startedAt: NOW - 10, deadline: NOW + 1010, remaining: { upscale: 10 } },
    ],
    expect: { 'up-spot': 1 },
  },
  {
    // Started after the small one, the big job delays it only by as much as the small one's own
    // work (their tasks interleave): (10 + 10) × 30 / 900 = 0.7; the big one's own pace wins ⇒ 1.
    name: 'a job started later holds up an earlier one only as much as their tasks interleave',
    jobs: [
      { jobId: 'small', startedAt: NOW - 100, deadline: NOW + 1010, remaining: { upscale: 10 } },
      { jobId: 'big', startedAt: NOW - 10, remaining: { upscale: 100 } },
    ],
    expect: { 'up-spot': 1 },
  },
  {
    // 20 tasks queued, 2 ready pods, an hour to go: needs 0.2 pod, yet both pods have work: kept.
    name: 'ready pods with queued tasks are kept even when fewer would do',
    queues: { upscale: queued(20) },
    pools: { 'up-spot': ready(2) },
    memory: { pools: {} },
    expect: { 'up-spot': 2 },
  },
  {
    // 30 keyframe segments in 1000 s would need 2.1 pods, but the chain runs one task at a time.
    name: 'the keyframe chain is sequential: one pod per job',
    jobs: [job({ keyframe: 30 }, 1000)],
    queues: { keyframe: queued(1) },
    expect: { 'kf-spot': 1, 'kf-od': 0 },
  },
  {
    name: 'spot is preferred to on-demand',
    jobs: [job({ keyframe: 3 }, 3000)],
    expect: { 'kf-spot': 1, 'kf-od': 0 },
  },
  {
    // The spot pod has been unschedulable 200 s > 180 s: on-demand takes the deadline's work, and
    // the spot request is dropped.
    name: 'spot pods stuck Pending: on-demand fallback for a deadline',
    jobs: [job({ keyframe: 3 }, 3000)],
    queues: { keyframe: queued(1) },
    pools: {
      'kf-spot': { replicas: 1, ready: 0, pending: 1, unschedulable: 1, oldestUnschedulableSeconds: 200 },
    },
    expect: { 'kf-spot': 0, 'kf-od': 1 },
    reason: ['kf-spot', /spot capacity unavailable/],
  },
  {
    name: 'spot pods stuck Pending: the on-demand pool says why it grows',
    jobs: [job({ keyframe: 3 }, 3000)],
    queues: { keyframe: queued(1) },
    pools: {
      'kf-spot': { replicas: 1, ready: 0, pending: 1, unschedulable: 1, oldestUnschedulableSeconds: 200 },
    },
    expect: { 'kf-spot': 0, 'kf-od': 1 },
    reason: ['kf-od', /adds 0.1 for keyframe \(spot pool kf-spot without capacity\)/],
  },
  {
    name: 'spot pods stuck Pending: work without a deadline waits for spot',
    jobs: [job({ keyframe: 3 })],
    queues: { keyframe: queued(1) },
    pools: {
      'kf-spot': { replicas: 1, ready: 0, pending: 1, unschedulable: 1, oldestUnschedulableSeconds: 200 },
    },
    expect: { 'kf-spot': 0, 'kf-od': 0 },
  },
  {
    // Unschedulable for 60 s only: normal node provisioning; the pod is kept and nothing is added.
    name: 'a spot pod pending for less than the timeout is waited for',
    jobs: [job({ keyframe: 3 }, 3000)],
    queues: { keyframe: queued(1) },
    pools: {
      'kf-spot': { replicas: 1, ready: 0, pending: 1, unschedulable: 1, oldestUnschedulableSeconds: 60 },
    },
    expect: { 'kf-spot': 1, 'kf-od': 0 },
  },
  {
    // 400 tasks by T = 1000 ⇒ 13.3 pods; spot stops at its maximum of 10; on-demand is for shortages.
    name: 'past the spot pool maximum, on-demand stays unused by default…',
    jobs: [job({ upscale: 400 }, 1010)],
    expect: { 'up-spot': 10, 'up-od': 0 },
  },
  {
    name: '…and takes the rest with onDemandFor "deadlines"',
    config: config({ onDemandFor: 'deadlines' }),
    jobs: [job({ upscale: 400 }, 1010)],
    expect: { 'up-spot': 10, 'up-od': 4 },
  },
  {
    // No job has work left for upscale and no task of unknown origin was seen: none can come back.
    name: 'pods no running job needs any more go at once',
    pools: { 'up-spot': ready(3) },
    memory: remember('up-spot', 50, 3),
    expect: { 'up-spot': 0 },
  },
  {
    // The job still has 1 upscale task: 1 pod is recommended, the other 2 wait out the window.
    name: 'while work remains, idle pods stay for the scale-down window (their cold start)',
    jobs: [job({ upscale: 1 })],
    queues: { upscale: queued(1) },
    pools: { 'up-spot': ready(3) },
    memory: remember('up-spot', 50, 3),
    expect: { 'up-spot': 3 },
    reason: ['up-spot', /held at 3 by the 100 s scale-down window \(recommended 1\)/],
  },
  {
    name: 'after tasks of unknown origin, idle pods stay for the window…',
    pools: { 'up-spot': ready(3) },
    memory: { ...remember('up-spot', 50, 3), unattributedAt: { upscale: NOW - 50 } },
    expect: { 'up-spot': 3 },
  },
  {
    name: '…and go once it has passed',
    pools: { 'up-spot': ready(3) },
    memory: { ...remember('up-spot', 150, 3), unattributedAt: { upscale: NOW - 150 } },
    expect: { 'up-spot': 0 },
  },
  {
    name: 'a fresh leader holds what it finds for one window',
    pools: { 'up-spot': ready(3) },
    expect: { 'up-spot': 3 },
  },
  {
    // Pods not yet on a node cost nothing: dropped at once, window or not.
    name: 'unscheduled pods are dropped at once when the work is gone',
    pools: {
      'up-spot': { replicas: 3, ready: 0, pending: 3, unschedulable: 3, oldestUnschedulableSeconds: 30 },
    },
    memory: { ...remember('up-spot', 10, 3), unattributedAt: { upscale: NOW - 10 } },
    expect: { 'up-spot': 0 },
  },
  {
    // Wants kf 1 + up 4 + media 0.1 = 5.1/h; cap 3.1 ⇒ two upscale pods go, the keyframe pod stays.
    name: 'the price cap is never exceeded',
    config: config({ maxPricePerHour: 3.1 }),
    jobs: [{ ...job({ upscale: 100 }, 1010) }, { ...job({ keyframe: 2 }), jobId: 'j2' }],
    expect: { 'kf-spot': 1, 'up-spot': 2, media: 1 },
    reason: ['up-spot', /cut to 2 by maxPricePerHour 3.1/],
  },
];

describe('decide', () => {
  it.each(rows)('$name', (row) => {
    const d = decide({
      now: NOW,
      config: row.config ?? config(),
      queues: row.queues ?? {},
      jobs: row.jobs ?? [],
      pools: row.pools ?? {},
      ...(row.memory ? { memory: row.memory } : {}),
    });
    const got = Object.fromEntries(d.pools.map((p) => [p.pool, p.replicas]));
    expect(got).toMatchObject(row.expect);
    expect(d.pricePerHour).toBeLessThanOrEqual((row.config ?? config()).maxPricePerHour + 1e-9);
    if (row.reason) expect(d.pools.find((p) => p.pool === row.reason?.[0])?.reason).toMatch(row.reason[1]);
  });

  it('remembers a stalled spot pool and keeps on-demand pods rather than churning back', () => {
    const cfg = config();
    const jobs = [job({ keyframe: 3 }, 3000)];
    const first = decide({
      now: NOW,
      config: cfg,
      queues: { keyframe: queued(1) },
      jobs,
      pools: {
        'kf-spot': { replicas: 1, ready: 0, pending: 1, unschedulable: 1, oldestUnschedulableSeconds: 200 },
      },
    });
    expect(first.memory.pools['kf-spot'].spotStalledAt).toBe(NOW);
    // A minute later the spot request is gone but the pool is still avoided (spotRetrySeconds 900).
    const second = decide({
      now: NOW + 60,
      config: cfg,
      queues: { keyframe: queued(1) },
      jobs,
      pools: { 'kf-od': ready(0), 'kf-spot': ready(0) },
      memory: first.memory,
    });
    expect(second.pools.find((p) => p.pool === 'kf-od')?.replicas).toBe(1);
    expect(second.pools.find((p) => p.pool === 'kf-spot')?.replicas).toBe(0);
    // After the retry window spot is allowed again, but the ready on-demand pod doing the deadline's
    // work is kept: moving it would cost a cold start and risk the deadline.
    const third = decide({
      now: NOW + 1000,
      config: cfg,
      queues: { keyframe: queued(0, 1) },
      jobs,
      pools: { 'kf-od': ready(1) },
      memory: second.memory,
    });
    expect(third.memory.pools['kf-spot'].spotStalledAt).toBeUndefined();
    expect(third.pools.find((p) => p.pool === 'kf-od')?.replicas).toBe(1);
    expect(third.pools.find((p) => p.pool === 'kf-spot')?.replicas).toBe(0);
  });

  it('does not oscillate on a backlog that comes and goes', () => {
    // A queue that alternates between 6 queued tasks and none every 30 s: once up, the pool stays up.
    const cfg = config();
    let memory: ScalerMemory | undefined = { pools: {} };
    let replicas = 0;
    const seen: number[] = [];
    for (let t = 0; t < 600; t += 15) {
      const busy = Math.floor(t / 30) % 2 === 0;
      const d = decide({
        now: NOW + t,
        config: cfg,
        queues: { upscale: busy ? queued(6) : queued(0) },
        jobs: [],
        pools: { 'up-spot': ready(replicas) },
        memory,
      });
      memory = d.memory;
      replicas = d.pools.find((p) => p.pool === 'up-spot')?.replicas ?? 0;
      seen.push(replicas);
    }
    // Up to 1 at the first backlog, never back down while the backlog keeps returning.
    expect(seen).toEqual(seen.map(() => 1));
  });

  it('is pure: the same input gives the same decision and the input is not changed', () => {
    const input = {
      now: NOW,
      config: config(),
      queues: { upscale: queued(5) },
      jobs: [job({ upscale: 100 }, 1010)],
      pools: { 'up-spot': ready(1) },
      memory: remember('up-spot', 10, 1),
    };
    const before = JSON.stringify(input);
    expect(decide(input)).toEqual(decide(input));
    expect(JSON.stringify(input)).toBe(before);
  });
});
