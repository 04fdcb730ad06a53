/**
 * The observability settings and log fields (src/observability/health.ts, log.ts): VLDM_METRICS_PORT
 * and the health bounds as documented in docs/observability.md (off when unset, bad values refused
 * with the variable's name), VLDM_LOG_FORMAT, and the job fields a JSON log line gets from the
 * Temporal SDK's metadata (workflow ids `<jobId>` and `<jobId>/segment-NNN`, src/common/names.ts).
 */
import { describe, expect, it } from 'vitest';
import { settingsFromEnv } from '../../src/observability/health';
import { jobFields, logFormatFromEnv } from '../../src/observability/log';
import { segmentWorkflowId } from '../../src/common/names';
import { UserError } from '../../src/common/errors';

describe('VLDM_METRICS_PORT and the health bounds', () => {
  it('are off unless the port is set, and take the documented defaults', () => {
    expect(settingsFromEnv({})).toBeUndefined();
    expect(settingsFromEnv({ VLDM_METRICS_PORT: '' })).toBeUndefined();
    expect(settingsFromEnv({ VLDM_METRICS_PORT: 'off' })).toBeUndefined();
    expect(settingsFromEnv({ VLDM_METRICS_PORT: '9464' })).toEqual({
      port: 9464,
      host: '0.0.0.0',
      maxLagMs: 30_000,
      pollWindowMs: 300_000,
    });
    expect(
      settingsFromEnv({
        VLDM_METRICS_PORT: '0',
        VLDM_METRICS_HOST: '127.0.0.1',
        VLDM_HEALTH_MAX_LAG_SECONDS: '2.5',
        VLDM_HEALTH_POLL_SECONDS: '60',
      }),
    ).toEqual({ port: 0, host: '127.0.0.1', maxLagMs: 2_500, pollWindowMs: 60_000 });
  });

  it('refuse bad values as user errors naming the variable', () => {
    for (const port of ['-1', '65536', 'http', '9464x'])
      expect(() => settingsFromEnv({ VLDM_METRICS_PORT: port }), port).toThrow(
        /VLDM_METRICS_PORT must be a TCP port/,
      );
    expect(() => settingsFromEnv({ VLDM_METRICS_PORT: '1', VLDM_HEALTH_POLL_SECONDS: '0' })).toThrow(
      UserError,
    );
    expect(() => settingsFromEnv({ VLDM_METRICS_PORT: '1', VLDM_HEALTH_MAX_LAG_SECONDS: 'soon' })).toThrow(
      /VLDM_HEALTH_MAX_LAG_SECONDS must be a number of seconds > 0/,
    );
  });
});

describe('log format and fields', () => {
  it('VLDM_LOG_FORMAT is text by default, json when asked, refused otherwise', () => {
    expect(logFormatFromEnv({})).toBe('text');
    expect(logFormatFromEnv({ VLDM_LOG_FORMAT: 'json' })).toBe('json');
    expect(() => logFormatFromEnv({ VLDM_LOG_FORMAT: 'xml' })).toThrow(/must be text or json/);
  });

  it('derives job id, segment, stage and attempt from the SDK metadata of an activity', () => {
    const workflowId = segmentWorkflowId('night-7-abc', 12);
    expect(jobFields({ workflowId, activityType: 'upscale', attempt: 3, taskQueue: 'vldm-upscale' })).toEqual(
      {
        workflowId,
        jobId: 'night-7-abc',
        segment: 12,
        activity: 'upscale',
        stage: 'upscale',
        attempt: 3,
      },
    );
    // The job workflow's own activities: no segment in the id, but the input's (getLogAttributes) wins.
    expect(
      jobFields({ workflowId: 'night-7-abc', activityType: 'generateKeyframes', segment: 2 }),
    ).toMatchObject({
      jobId: 'night-7-abc',
      segment: 2,
      stage: 'keyframe',
    });
    expect(jobFields({ workflowId: 'night-7-abc', workflowType: 'videoJobWorkflow' })).toEqual({
      workflowId: 'night-7-abc',
      jobId: 'night-7-abc',
      workflow: 'videoJobWorkflow',
    });
    expect(jobFields({ taskQueue: 'vldm-media' })).toEqual({});
  });
});
