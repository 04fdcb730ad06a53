/**
 * The run report's arithmetic (src/observability/report.ts analyse): lanes, retries, waits, cost, and
 * the critical path (src/observability/critical-path.ts) of a record set whose path is known.
 */
import { describe, expect, it } from 'vitest';
import { analyse, reportText, type ActivityRow } from '../../src/observability/report';
import { reportHtml } from '../../src/observability/report-html';
import { parsePoolsConfig } from '../../src/scaling/pools';

const row = (
  o: Partial<ActivityRow> & Pick<ActivityRow, 'activityId' | 'scheduled' | 'started' | 'ended'>,
): ActivityRow => ({
  workflowId: 'job-1/segment-000',
  type: 'upscale',
  stage: 'upscale',
  queue: 'vldm-upscale',
  worker: '1@a',
  attempt: 1,
  outcome: 'completed',
  waitSeconds: o.started! - o.scheduled,
  runSeconds: o.ended! - o.started!,
  ...o,
});

const base = {
  jobId: 'job-1',
  status: 'COMPLETED',
  startTime: '2026-01-01T00:00:00.000Z',
  wallSeconds: 100,
  workflows: 2,
};

describe('run report', () => {
  const rows = [
    row({ activityId: '1', scheduled: 0, started: 1, ended: 11 }),
    row({ activityId: '2', scheduled: 0, started: 2, ended: 6 }), // overlaps 1 on the same worker: lane 2
    row({ activityId: '3', scheduled: 0, started: 12, ended: 20 }), // after 1 ended: lane 1 again
    // A retried one: scheduled at 10, last attempt started at 40; median first-attempt wait is 2 s.
    row({ activityId: '4', scheduled: 10, started: 40, ended: 50, attempt: 3, worker: '2@b' }),
    row({
      activityId: '5',
      scheduled: 5,
      started: 6,
      ended: 9,
      type: 'encodeSegment',
      stage: 'encode',
      queue: 'vldm-media',
      worker: '2@b',
    }),
  ];
  const pools = parsePoolsConfig({
    maxPricePerHour: 10,
    secondsPerActivity: { upscale: 30, media: 5 },
    pools: [
      {
        name: 'spot',
        deployment: 'a',
        queues: ['upscale'],
        gpusPerPod: 1,
        spot: true,
        pricePerHour: 7.2,
        coldStartSeconds: 60,
        maxReplicas: 2,
        activitiesPerPod: 2,
      },
      {
        name: 'dear',
        deployment: 'b',
        queues: ['upscale'],
        gpusPerPod: 1,
        spot: false,
        pricePerHour: 36,
        coldStartSeconds: 60,
        maxReplicas: 2,
      },
    ],
  });
  const r = analyse(base, rows, pools);

  it('puts overlapping activities of one worker in different lanes', () => {
    expect(rows.map((x) => x.lane)).toEqual([0, 1, 0, 0, 0]);
    expect(r.workers.find((w) => w.worker === '1@a')).toMatchObject({
      activities: 3,
      lanes: 2,
      busySeconds: 22,
      first: 1,
      last: 20,
    });
  });

  it('counts retries and the time lost to earlier attempts (less one typical queue wait)', () => {
    const up = r.stages.find((s) => s.stage === 'upscale')!;
    expect(up).toMatchObject({
      activities: 4,
      retries: 2,
      runSeconds: 32,
      medianQueueWaitSeconds: 2,
      queueWaitSeconds: 1 + 2 + 12,
    });
    expect(up.retrySeconds).toBe(30 - 2);
    expect(r.retries).toEqual([
      {
        workflowId: 'job-1/segment-000',
        activityId: '4',
        type: 'upscale',
        attempt: 3,
        worker: '2@b',
        retrySeconds: 28,
      },
    ]);
    expect(r.totals).toMatchObject({ activities: 5, retries: 2, runSeconds: 35 });
  });

  it('prices busy time at the cheapest pool per activity slot; queues without a pool cost nothing', () => {
    // 32 s of upscale at 7.2/h over 2 slots = 3.6/h per slot.
    expect(r.cost!.byQueue.upscale).toEqual({ pool: 'spot', pricePerHour: 7.2, cost: 0.032 });
    expect(r.cost!.byQueue.media).toBeUndefined();
    expect(r.cost!.total).toBe(0.032);
  });

  it('renders text and a page with one bar per activity and escaped values', () => {
    expect(reportText(r)[0]).toBe('job job-1: COMPLETED, 100.0 s wall, 2 workflow(s), 5 activities');
    const evil = analyse({ ...base, jobId: '<script>x</script>' }, [
      row({ activityId: '9', scheduled: 0, started: 1, ended: 2, worker: '<b>w</b>' }),
    ]);
    const html = reportHtml(evil);
    expect((html.match(/<rect class="bar"/g) ?? []).length).toBe(1);
    expect(html).not.toContain('<script>x</script>');
    expect(html).not.toContain('<b>w</b>');
  });
});

describe('critical path', () => {
  // Two segments: keyframes k0 → k1, each segment's interpolation → decode → tile → clip, one stitch.
  // Segment 0's tile is the long one, so the path runs through segment 0; its interpolation window was
  // held back by the upscale speed probe (which ended after k0), and a decoy that reads nothing ends
  // just before the stitch is scheduled.
  const r = (
    activityId: string,
    stage: string,
    t: [number, number, number],
    o: { reads?: string[]; wrote?: string; workflowId?: string } = {},
  ) =>
    row({
      activityId,
      type: stage,
      stage,
      scheduled: t[0],
      started: t[1],
      ended: t[2],
      workflowId: o.workflowId ?? 'job-1',
      ...(o.reads ? { reads: o.reads } : {}),
      ...(o.wrote ? { wrote: o.wrote } : {}),
    });
  const s0 = { workflowId: 'job-1/segment-000' };
  const s1 = { workflowId: 'job-1/segment-001' };
  const rows = [
    r('1', 'prepare', [0.1, 0.2, 1.0], { wrote: 'p' }),
    r('2', 'measure', [1.0, 1.1, 2.0]),
    r('3', 'measure', [1.0, 1.1, 5.5]),
    r('4', 'other', [0.5, 0.6, 22.05]),
    r('5', 'keyframe', [2.0, 2.1, 5.0], { wrote: 'k0' }),
    r('6', 'keyframe', [5.5, 5.6, 8.0], { reads: ['k0'], wrote: 'k1' }),
    r('7', 'interpolation', [5.5, 5.7, 9.0], { ...s0, reads: ['k0'], wrote: 'i0' }),
    r('8', 'interpolation', [8.0, 8.2, 12.0], { ...s1, reads: ['k1'], wrote: 'i1' }),
    r('9', 'decode', [9.0, 9.1, 10.0], { ...s0, reads: ['i0'], wrote: 'd0' }),
    r('10', 'decode', [12.0, 12.5, 14.0], { ...s1, reads: ['i1'], wrote: 'd1' }),
    r('11', 'upscale', [10.0, 10.5, 21.0], { ...s0, reads: ['d0'], wrote: 't0' }),
    r('12', 'upscale', [14.0, 14.2, 20.0], { ...s1, reads: ['d1'], wrote: 't1' }),
    r('13', 'encode', [21.0, 21.1, 22.0], { ...s0, reads: ['t0'], wrote: 'c0' }),
    r('14', 'encode', [20.0, 20.1, 21.0], { ...s1, reads: ['t1'], wrote: 'c1' }),
    r('15', 'stitch', [22.1, 22.2, 23.0], { reads: ['c0', 'c1'], wrote: 'out' }),
  ];
  const report = analyse({ ...base, wallSeconds: 23.5, closeTime: '2026-01-01T00:00:23.500Z' }, rows);
  const path = report.criticalPath!;

  it('walks back from the last activity through the inputs that arrived last', () => {
    expect(path.steps.map((s) => [s.activityId, s.via])).toEqual([
      ['1', 'start'],
      ['3', 'order'],
      ['7', 'probe'],
      ['9', 'artifact'],
      ['11', 'artifact'],
      ['13', 'artifact'],
      ['15', 'artifact'],
    ]);
    expect(path.steps.map((s) => s.gapSeconds)).toEqual([0.2, 0.1, 0.2, 0.1, 0.5, 0.1, 0.2]);
    expect(path).toMatchObject({ totalSeconds: 23, runSeconds: 21.6, idleSeconds: 1.4, tailSeconds: 0.5 });
    for (let i = 1; i < path.steps.length; i++)
      expect(path.steps[i].started).toBeGreaterThanOrEqual(path.steps[i - 1].ended);
  });

  it('falls back to time order where no input is known (encrypted payloads)', () => {
    const blind = analyse(
      { ...base, wallSeconds: 23.5 },
      rows.map(({ reads: _r, wrote: _w, ...x }) => ({ ...x })),
    ).criticalPath!;
    // Each step is then whatever ended last before the next was scheduled: the decoy before the stitch.
    expect(blind.steps.map((s) => s.activityId).slice(-2)).toEqual(['4', '15']);
    expect(blind.steps.every((s, i) => i === 0 || s.via === 'order')).toBe(true);
  });

  it('lists the path in the text and marks its bars in the page', () => {
    const text = reportText(report);
    expect(text).toContain(
      "critical path: 7 activities, 23.0 s (running 21.6 s, idle 1.4 s), then 0.5 s to the job's close",
    );
    const running = analyse({ ...base, status: 'RUNNING', wallSeconds: 23.5 }, rows);
    expect(reportText(running).join('\n')).toContain('(running 21.6 s, idle 1.4 s), the job still runs');
    const html = reportHtml(report);
    const marked = [...html.matchAll(/<rect class="bar"[^>]* data-critical="(\d+)"/g)].map((m) =>
      Number(m[1]),
    );
    expect(marked.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect((html.match(/<line class="path-link"/g) ?? []).length).toBe(6);
    expect(html).toContain('critical path</span>');
    expect(html).toMatch(/<table id="critical-path">.*<td>speed probe<\/td>/s);
  });

  it('is absent before any activity ran', () => {
    expect(analyse(base, []).criticalPath).toBeUndefined();
  });
});
