/**
 * OpenTelemetry traces, off unless an OTLP endpoint is configured (the standard OTEL_* variables,
 * docs/observability.md#traces). On, the process registers one tracer provider whose spans go over
 * OTLP/HTTP (JSON bodies) through a batch processor, and Temporal's interceptors
 * (@temporalio/interceptors-opentelemetry) carry the trace across processes in Temporal headers:
 * client start → workflow run → activity start → activity run, and child workflows below their parent.
 * Inside activities `inSpan` adds model-call and store spans under the activity's span.
 *
 * The SDK modules are loaded only when tracing is on, so a process without it pays nothing (and
 * `@opentelemetry/api` alone hands out no-op spans).
 */
import os from 'node:os';
import { context, trace, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { Resource } from '@opentelemetry/resources';
import { UserError } from '../common/errors';
import { quote } from '../common/quote';
import { vldmVersion } from '../cli/version';

/** The name vldm's own spans (model calls, store operations) are recorded under. */
export const TRACER_NAME = 'vldm';

/** The one protocol this exporter speaks (@opentelemetry/exporter-trace-otlp-http). */
const PROTOCOL = 'http/json';

export interface TracingSettings {
  /** Where spans go, as configured (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT). */
  endpoint: string;
  serviceName: string;
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());
const set = (v: string | undefined): string | undefined =>
  v === undefined || v.trim() === '' ? undefined : v.trim();

/**
 * Whether (and where) this process traces, from the OpenTelemetry SDK's standard variables; a value
 * vldm cannot honour is a user error (exit 2), never silently ignored. Headers
 * (OTEL_EXPORTER_OTLP_HEADERS, often an API key) are read by the exporter and never printed.
 */
export function tracingSettingsFromEnv(
  defaultService: string,
  env: NodeJS.ProcessEnv = process.env,
): TracingSettings | undefined {
  if (truthy(env.OTEL_SDK_DISABLED)) return undefined;
  const exporter = set(env.OTEL_TRACES_EXPORTER);
  if (exporter === 'none') return undefined;
  const endpoint = set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ?? set(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (endpoint === undefined) {
    if (exporter !== undefined && exporter !== 'otlp')
      throw new UserError(`OTEL_TRACES_EXPORTER must be otlp or none, got ${quote(exporter)}`);
    return undefined;
  }
  if (exporter !== undefined && exporter !== 'otlp')
    throw new UserError(`OTEL_TRACES_EXPORTER must be otlp or none, got ${quote(exporter)}`);
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'] as const) {
    const protocol = set(env[name]);
    if (protocol !== undefined && protocol !== PROTOCOL)
      throw new UserError(
        `${name} must be ${PROTOCOL} (vldm exports OTLP over HTTP with JSON), got ${quote(protocol)}`,
      );
  }
  const which = set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
    : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UserError(`${which} must be an http:// or https:// URL, got ${quote(endpoint)}`);
  // User info in the URL would be a secret; it is not sent that way and not printed either.
  if (url.username || url.password)
    throw new UserError(
      `${which} must not carry a user or password; put credentials in OTEL_EXPORTER_OTLP_HEADERS`,
    );
  return { endpoint, serviceName: set(env.OTEL_SERVICE_NAME) ?? defaultService };
}

interface Started {
  settings: TracingSettings;
  provider: BasicTracerProvider;
  processor: SpanProcessor;
  resource: Resource;
}

let started: Started | undefined;

/**
 * Start tracing for this process when configured (once; later calls return the same). `vldm` calls it
 * before each command (service name `vldm-<command>`); a program that embeds the workers or the client
 * calls it itself. `extra` resource attributes describe the process (e.g. the queues a worker serves).
 */
export function startTracing(
  defaultService: string,
  extra: Attributes = {},
  env: NodeJS.ProcessEnv = process.env,
): Started | undefined {
  if (started) return started;
  const settings = tracingSettingsFromEnv(defaultService, env);
  if (!settings) return undefined;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const sdk = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const res = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { AsyncLocalStorageContextManager } =
    require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
  /* eslint-enable @typescript-eslint/no-require-imports */
  // OTEL_RESOURCE_ATTRIBUTES (the env detector) wins over vldm's own, as the spec says.
  const resource = new res.Resource({
    'service.name': settings.serviceName,
    'service.version': vldmVersion(),
    'host.name': os.hostname(),
    'process.pid': process.pid,
    ...extra,
  }).merge(res.detectResourcesSync({ detectors: [res.envDetectorSync] }));
  // The exporter reads the endpoint, headers, timeout and compression from the same variables.
  const processor = new sdk.BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new sdk.BasicTracerProvider({ resource });
  provider.addSpanProcessor(processor);
  // Async context, so a span started inside an activity (model call, store) is the activity's child.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  started = { settings, provider, processor, resource };
  return started;
}

/** Whether this process traces (startTracing found an endpoint). */
export function tracingOn(): boolean {
  return started !== undefined;
}

/** Send every span still buffered; before a process exits. Never throws: traces are a convenience. */
export async function flushTracing(): Promise<void> {
  if (!started) return;
  try {
    await started.provider.forceFlush();
  } catch (err) {
    process.stderr.write(`vldm: traces not exported: ${(err as Error).message}\n`);
  }
}

/** Flush and stop exporting (a process that is done). */
export async function shutdownTracing(): Promise<void> {
  if (!started) return;
  const s = started;
  started = undefined;
  try {
    await s.provider.shutdown();
  } catch (err) {
    process.stderr.write(`vldm: traces not exported: ${(err as Error).message}\n`);
  }
}

/** What a worker adds when tracing is on: activity interceptors, workflow interceptor modules, sinks. */
export interface WorkerTracing {
  activity: ActivityInterceptorsFactory[];
  /** For the workflow bundle (a prebuilt bundle ignores `interceptors.workflowModules`). */
  workflowModules: string[];
  sinks: InjectedSinks<Record<string, never>>;
}

export function workerTracing(): WorkerTracing | undefined {
  if (!started) return undefined;
  const s = started;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const otel =
    require('@temporalio/interceptors-opentelemetry') as typeof import('@temporalio/interceptors-opentelemetry');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return {
    activity: [
      (ctx) => ({
        inbound: new otel.OpenTelemetryActivityInboundInterceptor(ctx),
        outbound: new otel.OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
    ],
    workflowModules: [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
    // Workflow spans are made in the sandbox and leave it through this sink (not called on replay).
    sinks: { exporter: otel.makeWorkflowExporter(s.processor, s.resource) } as unknown as InjectedSinks<
      Record<string, never>
    >,
  };
}

/** The client interceptor that starts the trace of each workflow it starts, signals or queries. */
export function clientTracing(): WorkflowClientInterceptor[] {
  if (!started) return [];
  type ClientModule = typeof import('@temporalio/interceptors-opentelemetry/lib/client');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when tracing is on
  const otel = require('@temporalio/interceptors-opentelemetry/lib/client') as ClientModule;
  return [new otel.OpenTelemetryWorkflowClientInterceptor()];
}

/**
 * Run `fn` in a span named `name` under the active one (the activity's). Without tracing the API's
 * no-op tracer makes this a plain call. Errors mark the span and are rethrown unchanged.
 */
export async function inSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!started) return fn();
  const tracer = trace.getTracer(TRACER_NAME);
  return tracer.startActiveSpan(name, { attributes }, context.active(), async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Attributes on the active span (the activity's), when there is one. */
export function annotateActiveSpan(attributes: Attributes): void {
  if (!started) return;
  trace.getActiveSpan()?.setAttributes(attributes);
}
