/**
 * The benchmark's arithmetic (src/bench): emulated call times from a speed table, the lower bound, the
 * slot-replay estimate of Temporal's hand-over delay, what is read from a history, and the emulated
 * slots' order (the keyframe chain's kept slot).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmulatedAccelerators, type AttemptRecord } from '../../src/bench/accelerator';
import { TASK_QUEUES } from '../../src/common/names';
import { historyFacts, quantile } from '../../src/bench/histories';
import { lowerBound, slotToStartMs, utilisation } from '../../src/bench/report';
import { defaultSpeedTable, emulatedCallMs, parseSpeedTable } from '../../src/bench/speed-table';
import { slotsPerProcess } from '../../src/bench/run';

function rec(p: Partial<AttemptRecord>): AttemptRecord {
  return {
    workflowId: 'j/segment-000',
    activityId: '1',
    activityType: 'upscale',
    taskQueue: 'vldm-upscale',
    pid: 1,
    attempt: 1,
    scheduledMs: 0,
    startedMs: 0,
    completedMs: 0,
    outcome: 'completed',
    calls: 1,
    busyMs: 0,
    realMs: 0,
    waitMs: 0,
    overruns: 0,
    ...p,
  };
}

describe('speed tables', () => {
  it('scale a call by its output elements, the GPU factor and the dilation', () => {
    const t = defaultSpeedTable(0.1);
    // models/reference/EVAL.md: upsampler 1270.1 ms at 1×8×3×128×256; a 256×288 tile is 2.25× the pixels.
    expect(emulatedCallMs(t, 'upsampler', [1, 8, 3, 128, 256], 1)).toBeCloseTo(127.01);
    expect(emulatedCallMs(t, 'upsampler', [1, 8, 3, 256, 288], 2)).toBeCloseTo(127.01 * 2.25 * 2);
    expect(t.source).toMatch(/stated, not measured/);
  });

  it('read a measured table and refuse incomplete or malformed ones', () => {
    const roles = Object.fromEntries(
      ['encoder', 'decoder', 'keyframe', 'interpolation', 'upsampler'].map((r) => [
        r,
        { ms: 2, outputShape: [1, 2] },
      ]),
    );
    const t = parseSpeedTable(JSON.stringify({ source: 'H200, CUDA', roles }), 'gpu.json');
    expect(t.source).toBe('H200, CUDA (from gpu.json)');
    expect(emulatedCallMs(t, 'decoder', [1, 4], 1)).toBe(4);
    expect(() => parseSpeedTable('{', 'x.json')).toThrow(/not JSON/);
    expect(() =>
      parseSpeedTable(JSON.stringify({ source: 's', roles: { decoder: roles.decoder } }), 'x.json'),
    ).toThrow(/has no encoder/);
    expect(() =>
      parseSpeedTable(JSON.stringify({ source: 's', roles: { ...roles, gpu: roles.decoder } }), 'x.json'),
    ).toThrow(/unknown role "gpu"/);
    expect(() => parseSpeedTable(JSON.stringify({ roles }), 'x.json')).toThrow(/source/);
    expect(() => defaultSpeedTable(0)).toThrow(/--gpu-factor/);
  });
});

describe('the lower bound', () => {
  it('is the chain plus the shortest tail, or the slot-seconds over G, whichever is longer', () => {
    const records = [
      rec({ activityType: 'generateKeyframes', busyMs: 1000 }),
      rec({ activityType: 'generateKeyframes', busyMs: 1000 }),
      rec({ activityType: 'interpolate', busyMs: 300 }),
      rec({ activityType: 'interpolate', busyMs: 100 }),
      rec({ activityType: 'decode', busyMs: 200 }),
      rec({ activityType: 'upscale', busyMs: 4000 }),
      rec({ activityType: 'upscale', busyMs: 4000 }),
      rec({ activityType: 'encodeSegment', calls: 0, startedMs: 0, completedMs: 500 }),
      rec({ activityType: 'stitchJob', calls: 0, startedMs: 0, completedMs: 100 }),
      rec({ activityType: 'upscale', busyMs: 9999, outcome: 'failed' }),
    ];
    const one = lowerBound(records, 1);
    expect(one).toMatchObject({ chainSeconds: 2, slotSeconds: 10.6, bound: 'slots', seconds: 10.6 });
    expect(one.tailSeconds).toBeCloseTo(0.1 * 2 + 0.2 + 4 + 0.5 + 0.1);
    const many = lowerBound(records, 8);
    expect(many.bound).toBe('chain');
    expect(many.seconds).toBeCloseTo(2 + 5);
    expect(utilisation(records, 2, 10).all).toBeCloseTo((10.6 + 9.999) / 20, 3);
  });

  it('spreads G slots over the processes evenly', () => {
    expect(slotsPerProcess(8, 4)).toEqual([2, 2, 2, 2]);
    expect(slotsPerProcess(3, 2)).toEqual([2, 1]);
    expect(slotsPerProcess(2, 4)).toEqual([1, 1]);
  });
});

describe('dispatch delays', () => {
  it('count only the time a free slot and a waiting task coexisted', () => {
    // One slot: the second task was scheduled at 0 but the slot was busy until 1000; it started at 1030.
    const records = [
      rec({ activityId: 'a', scheduledMs: 0, startedMs: 20, completedMs: 1000 }),
      rec({ activityId: 'b', scheduledMs: 0, startedMs: 1030, completedMs: 2000 }),
      rec({ activityId: 'c', scheduledMs: 2500, startedMs: 2540, completedMs: 3000 }),
    ];
    expect(slotToStartMs(records, () => 1, 0)).toEqual([20, 30, 40]);
    // With two slots the second task could have started at once.
    expect(slotToStartMs(records, () => 2, 0)).toEqual([20, 1030, 40]);
  });

  it('read pending maxima and completion → next scheduled from a history', () => {
    const t = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
    const events = [
      { eventId: 1, eventTime: t(0), workflowTaskStartedEventAttributes: {} },
      { eventId: 2, eventTime: t(10), workflowTaskCompletedEventAttributes: {} },
      {
        eventId: 3,
        eventTime: t(10),
        activityTaskScheduledEventAttributes: { activityId: 'a', workflowTaskCompletedEventId: 2 },
      },
      {
        eventId: 4,
        eventTime: t(10),
        activityTaskScheduledEventAttributes: { activityId: 'b', workflowTaskCompletedEventId: 2 },
      },
      { eventId: 5, eventTime: t(15), startChildWorkflowExecutionInitiatedEventAttributes: {} },
      // Activity a closed on its third attempt (two lost to killed workers).
      {
        eventId: 6,
        eventTime: t(30),
        activityTaskStartedEventAttributes: { scheduledEventId: 3, attempt: 3 },
      },
      { eventId: 7, eventTime: t(100), activityTaskCompletedEventAttributes: { scheduledEventId: 3 } },
      { eventId: 8, eventTime: t(140), workflowTaskStartedEventAttributes: {} },
      { eventId: 9, eventTime: t(150), workflowTaskCompletedEventAttributes: {} },
      {
        eventId: 10,
        eventTime: t(160),
        activityTaskScheduledEventAttributes: { activityId: 'c', workflowTaskCompletedEventId: 9 },
      },
    ];
    const f = historyFacts(events as never);
    expect(f.maxPendingActivities).toBe(2);
    expect(f.maxPendingChildren).toBe(1);
    expect(f.scheduledToStartedMs).toEqual([20]);
    expect(f.completedToNextScheduledMs).toEqual([60]);
    expect([f.retries, f.retriedActivities]).toEqual([2, 1]);
    expect(quantile([5, 1, 3, 2, 4], 0.5)).toBe(3);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('emulated slots', () => {
  // A tile call holds its slot for TILE_MS, a keyframe call for KEY_MS (emulated; the real call is a no-op).
  const TILE_MS = 400;
  const KEY_MS = 20;
  const table = {
    source: 'unit test',
    roles: {
      upsampler: { ms: TILE_MS, outputShape: [1] },
      keyframe: { ms: KEY_MS, outputShape: [1] },
    },
  };

  function activity(acc: EmulatedAccelerators, queue: string, body: () => Promise<void>) {
    const info = {
      taskQueue: queue,
      activityType: queue === TASK_QUEUES.keyframe ? 'generateKeyframes' : 'upscale',
      activityId: queue,
      attempt: 1,
      currentAttemptScheduledTimestampMs: Date.now(),
      workflowExecution: { workflowId: 'j', runId: 'r' },
    };
    const inbound = acc.interceptor({ info } as never).inbound!;
    return inbound.execute!({} as never, async () => {
      await body();
      return undefined;
    });
  }

  it('keep one slot for a running keyframe activity, so its calls never wait behind a tile', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vldm-slots-'));
    try {
      const traceFile = path.join(dir, 'trace.jsonl');
      const acc = new EmulatedAccelerators({ slots: 2, table, dilation: 1, traceFile });
      let rendering = 0;
      let mostRenderingWithChain = 0;
      let chainRunning = false;
      const tile = () =>
        activity(acc, TASK_QUEUES.upscale, async () => {
          await acc.call('upsampler', async () => {
            rendering += 1;
            if (chainRunning) mostRenderingWithChain = Math.max(mostRenderingWithChain, rendering);
            return { shape: [1] };
          });
          rendering -= 1;
        });
      const chain = activity(acc, TASK_QUEUES.keyframe, async () => {
        chainRunning = true;
        for (let i = 0; i < 5; i += 1) await acc.call('keyframe', async () => ({ shape: [1] }));
        chainRunning = false;
      });
      // Four tiles asked for right after the chain started: without the kept slot two of them would
      // take both slots and the chain's next call would wait up to TILE_MS.
      const tiles = [tile(), tile(), tile(), tile()];
      await Promise.all([chain, ...tiles]);
      const records = readFileSync(traceFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as AttemptRecord);
      const key = records.find((r) => r.taskQueue === TASK_QUEUES.keyframe)!;
      expect(key.calls).toBe(5);
      expect(key.waitMs).toBeLessThan(TILE_MS / 2);
      expect(mostRenderingWithChain).toBe(1);
      expect(records.filter((r) => r.taskQueue === TASK_QUEUES.upscale)).toHaveLength(4);

      // With no keyframe activity in flight, render calls take every slot: two tiles at once.
      let most = 0;
      rendering = 0;
      const both = () =>
        activity(acc, TASK_QUEUES.upscale, async () => {
          await acc.call('upsampler', async () => {
            rendering += 1;
            most = Math.max(most, rendering);
            return { shape: [1] };
          });
          rendering -= 1;
        });
      await Promise.all([both(), both()]);
      expect(most).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
