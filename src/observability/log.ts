/**
 * vldm's process log: plain lines (`<ISO time> <message>`, the default) or JSON lines (pino) with
 * `--log-format json` / VLDM_LOG_FORMAT=json, one object per line on stderr. In JSON the Temporal
 * SDK's logs (workers, workflows, activities: routed here by src/worker/workers.ts) carry the fields
 * to filter on: jobId, workflowId, segment, stage, activity, attempt (derived from the SDK's own
 * metadata: workflow ids are `<jobId>` and `<jobId>/segment-NNN`, src/common/names.ts), and console
 * warnings (stores, NATS) become JSON lines too, so a log pipeline never meets a stray text line.
 */
import { format } from 'node:util';
import pino from 'pino';
import { UserError } from '../common/errors';
import { stageOfActivity } from './metrics';

export const LOG_FORMAT_ENV = 'VLDM_LOG_FORMAT';
export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: LogFormat[] = ['text', 'json'];

export function logFormatFromEnv(env: NodeJS.ProcessEnv = process.env): LogFormat {
  const raw = env[LOG_FORMAT_ENV]?.trim();
  if (raw === undefined || raw === '') return 'text';
  if (!(LOG_FORMATS as string[]).includes(raw))
    throw new UserError(`${LOG_FORMAT_ENV} (--log-format) must be text or json, got "${raw}"`);
  return raw as LogFormat;
}

let jsonLogger: pino.Logger | undefined;

/** The JSON logger (created on first use; synchronous writes, so nothing is lost when vldm exits). */
function json(): pino.Logger {
  if (!jsonLogger) {
    jsonLogger = pino(
      {
        level: 'trace', // levels are filtered where logs come from (VLDM_LOG_LEVEL for the SDK's)
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      pino.destination({ fd: 2, sync: true }),
    );
    // console.warn/error (stores, NATS, libraries) as JSON lines too.
    const warn = jsonLogger.warn.bind(jsonLogger);
    const error = jsonLogger.error.bind(jsonLogger);
    console.warn = (...args: unknown[]) => warn(format(...args));
    console.error = (...args: unknown[]) => error(format(...args));
  }
  return jsonLogger;
}

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** One log line of vldm's own (worker and scaler status lines), with optional fields in JSON. */
export function logLine(message: string, fields: Record<string, unknown> = {}, level: Level = 'info'): void {
  if (logFormatFromEnv() === 'json') json()[level](fields, message);
  else process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

/** The fields to filter on, from the SDK's log metadata (activity or workflow context). */
export function jobFields(meta: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const workflowId = typeof meta.workflowId === 'string' ? meta.workflowId : undefined;
  if (workflowId) {
    out.workflowId = workflowId;
    out.jobId = workflowId.split('/')[0];
    const seg = /\/segment-(\d+)$/.exec(workflowId);
    if (seg) out.segment = Number(seg[1]);
  }
  // An activity's own input names its job and segment (activity-metrics.ts getLogAttributes).
  if (typeof meta.jobId === 'string') out.jobId = meta.jobId;
  if (typeof meta.segment === 'number') out.segment = meta.segment;
  if (typeof meta.activityType === 'string') {
    out.activity = meta.activityType;
    out.stage = stageOfActivity(meta.activityType);
  } else if (typeof meta.workflowType === 'string') out.workflow = meta.workflowType;
  if (typeof meta.attempt === 'number') out.attempt = meta.attempt;
  return out;
}

/** Where the Temporal SDK's log entries go: a text line as before, or a JSON line with job fields. */
export function sdkLogSink(entry: {
  level: string;
  message: string;
  timestampNanos: bigint;
  meta?: Record<string, unknown>;
}): void {
  if (logFormatFromEnv() === 'json') {
    const level = entry.level.toLowerCase() as Level;
    const {
      workflowId: _w,
      activityType: _a,
      attempt: _t,
      jobId: _j,
      segment: _s,
      ...rest
    } = entry.meta ?? {};
    json()[level in LEVELS ? level : 'info']({ ...rest, ...jobFields(entry.meta), sdk: true }, entry.message);
    return;
  }
  process.stderr.write(
    `${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} [${entry.level}] ${entry.message}\n`,
  );
}

const LEVELS: Record<Level, true> = { trace: true, debug: true, info: true, warn: true, error: true };
