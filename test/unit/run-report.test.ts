/** The run report's arithmetic (src/observability/report.ts analyse): lanes, retries, waits, cost. */
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
