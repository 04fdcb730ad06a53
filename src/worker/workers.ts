/**
 * Running vldm workers: one Temporal Worker per task queue served, all sharing one connection, one
 * artifact store, one event bus and one model cache (so a process that serves several GPU roles
 * loads each model once). Orchestration (the workflows) runs on its own queue; every other queue runs
 * only its stage's activities. SIGTERM stops polling, lets running activities finish within the
 * grace time, and exits. With VLDM_METRICS_PORT set, the process serves `/metrics`, `/healthz` and
 * `/readyz` (src/observability, docs/observability.md) from before its models load until it stops.
 * With tracing started (src/observability/tracing.ts: `vldm` does when OTEL_EXPORTER_OTLP_ENDPOINT is
 * set), workflows and activities are traced.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { createActivities, QUEUE_ACTIVITIES, type Activities } from '../../activities';
import { TASK_QUEUES, type QueueRole } from '../common/names';
import type { ArtifactStore } from '../storage';
import type { EventBus } from '../events';
import { ModelCache } from '../activity-runtime/model-cache';
import { repoRoot } from '../host/paths';
import { temporalConnectOptions } from '../config/temporal-env';
import type { Role } from '../models/contract';
import type { PayloadCodec } from '@temporalio/common';
import { dataConverterWith, payloadCodecFromEnv } from '../security';
import { EventLoopMonitor, settingsFromEnv, type ObservabilitySettings } from '../observability/health';
import { scrapeText, startObservabilityServer, type ObservabilityServer } from '../observability/server';
import { WorkerHealth } from '../observability/worker-health';
import { activityMetricsInterceptor } from '../observability/activity-metrics';
import { meteredStore } from '../observability/store';
import { modelsLoaded, registryFor } from '../observability/metrics';
import { freeLoopbackPort } from '../observability/ports';
import { sdkLogSink } from '../observability/log';
import type { EmulatedAccelerators } from '../bench/accelerator';
import { flushTracing, workerTracing } from '../observability/tracing';
import { workerDeploymentFromEnv, type WorkerDeployment } from '../config/versioning';
import { checkSearchAttributes } from './search-attributes';
import { fleetInterceptor } from './fleet';
import { setNoiseThreads } from '../activity-runtime/noise-threads';

/** Activities running at once per queue. Two cores here; a GPU pod sets its own (chart values). */
export const DEFAULT_CONCURRENCY: Record<QueueRole, number> = {
  orchestration: 50,
  keyframe: 1,
  interpolation: 2,
  decode: 2,
  upscale: 2,
  media: 2,
};

/** The models each queue's pool keeps warm. */
export const QUEUE_MODELS: Record<QueueRole, Role[]> = {
  orchestration: [],
  keyframe: ['keyframe'],
  interpolation: ['interpolation'],
  decode: ['decoder'],
  upscale: ['upsampler'],
  media: [],
};

export interface WorkerOptions {
  temporalAddress: string;
  namespace: string;
  queues: QueueRole[];
  store: ArtifactStore;
  events: EventBus;
  /** Pack to load and warm at start (workers also load packs on demand, by location). */
  warmPack?: string;
  scratchDir: string;
  concurrency?: Partial<Record<QueueRole, number>>;
  /** onnxruntime intra-op threads (fixed for reproducible bytes). @default 1 */
  intraOpThreads?: number;
  /** Noise threads of this process (src/activity-runtime/noise-threads.ts). @default the host's cores, at most 4 */
  noiseThreads?: number;
  /** Threads per model session (src/models/model-threads.ts); 0: calls on the activity's thread. @default 0 */
  modelThreads?: number;
  /** onnxruntime execution providers in order of preference (`cuda,cpu` on GPU pods). @default ['cpu'] */
  executionProviders?: string[];
  /** How long running activities get to finish after shutdown starts, in ms. @default 30000 */
  shutdownGraceMs?: number;
  log?: (line: string) => void;
  /** Payload encryption (src/security). @default the codec VLDM_CODEC_KEYS / VLDM_CODEC_KEY_FILE configure, else none */
  payloadCodec?: PayloadCodec;
  /** `/metrics`, `/healthz`, `/readyz`; false = none. @default from VLDM_METRICS_PORT etc. (off when unset) */
  observability?: ObservabilitySettings | false;
  /** `vldm bench` only: model calls on EMULATED accelerators (src/bench/accelerator.ts). */
  accelerators?: EmulatedAccelerators;
  /**
   * Worker Versioning (src/config/versioning.ts): every Worker polls as this deployment version and
   * pins the workflows it starts to it; false = unversioned. @default from VLDM_WORKER_DEPLOYMENT and
   * VLDM_BUILD_ID (unversioned when unset)
   */
  deployment?: WorkerDeployment | false;
  /** The workflow code to serve. @default the project's workflows ({@link workflowBundle}) */
  workflowBundle?: WorkflowBundleWithSourceMap;
}

export interface RunningWorkers {
  /** Resolves when every worker has stopped. */
  done: Promise<void>;
  shutdown(): Promise<void>;
  models: ModelCache;
  /** Where `/metrics`, `/healthz` and `/readyz` are served, when they are. */
  observability?: { url: string; port: number };
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/**
 * The workflow code, bundled once per process, failure converter and interceptor modules (from dist/
 * when built, else from the sources). A prebuilt bundle ignores the worker's `failureConverterPath`
 * and `interceptors.workflowModules`, so the encrypting converter (src/security) and the tracing
 * interceptors (src/observability/tracing.ts) must be bundled in.
 */
export function workflowBundle(
  failureConverterPath?: string,
  interceptorModules: string[] = [],
): Promise<WorkflowBundleWithSourceMap> {
  const cacheKey = JSON.stringify([failureConverterPath ?? '', ...interceptorModules]);
  let bundle = bundles.get(cacheKey);
  if (!bundle) {
    const workflowsPath = workflowModule('index');
    bundle = bundleWorkflowCode({
      workflowsPath,
      logger: quietLogger,
      ...(failureConverterPath ? { failureConverterPath } : {}),
      ...(interceptorModules.length ? { workflowInterceptorModules: interceptorModules } : {}),
    });
    bundles.set(cacheKey, bundle);
    bundle.catch(() => bundles.delete(cacheKey));
  }
  return bundle;
}

/** A module of workflows/ (dist/ when built, else the source). */
function workflowModule(name: string): string {
  const root = repoRoot();
  const built = path.join(root, 'dist', 'workflows', `${name}.js`);
  return existsSync(built) ? built : path.join(root, 'workflows', `${name}.ts`);
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => process.stderr.write(`workflow bundler: ${m}\n`),
  error: (m: string) => process.stderr.write(`workflow bundler: ${m}\n`),
};

function pick(all: Activities, names: Array<keyof Activities>): Partial<Activities> {
  return Object.fromEntries(names.map((n) => [n, all[n]])) as Partial<Activities>;
}

let runtimeInstalled = false;
/** The Temporal SDK's Prometheus exporter of this process (loopback only; merged into /metrics). */
let sdkMetricsUrl: string | undefined;

/**
 * The SDK logs every worker state change at INFO; a CLI shows progress bars instead, so only warnings
 * and errors get through (set VLDM_LOG_LEVEL=INFO or DEBUG to see more). Installed once per process.
 */
function installRuntime(sdkMetricsPort?: number): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level = (process.env.VLDM_LOG_LEVEL ?? 'WARN').toUpperCase() as 'WARN';
  // The SDK core's own warnings (e.g. "workflow task took > 5 s" on a busy 2-core machine) are only
  // shown when asked for: they would break progress bars, and by default they go to stdout, which
  // `--json` keeps for its one JSON object. Forwarded, they reach stderr through the logger below.
  const coreLevel = process.env.VLDM_LOG_LEVEL ? level : 'ERROR';
  try {
    Runtime.install({
      logger: new DefaultLogger(level, (entry) => {
        // A pool serves activities or workflows, never both: the SDK's warning about that is expected.
        if (/^No (activities|workflows) registered/.test(entry.message)) return;
        // A text line as before, or with --log-format json a JSON line with the job's fields.
        sdkLogSink(entry);
      }),
      telemetryOptions: {
        logging: { filter: { core: coreLevel, other: coreLevel }, forward: {} },
        // The SDK's own metrics (poll latencies, slots, schedule-to-start, ...) with Temporal's
        // default names, so Temporal's published SDK dashboards work on them too.
        ...(sdkMetricsPort !== undefined
          ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}` } } }
          : {}),
      },
    });
    if (sdkMetricsPort !== undefined) sdkMetricsUrl = `http://127.0.0.1:${sdkMetricsPort}/metrics`;
  } catch {
    // Already installed by the embedding program (e.g. a test): keep its logger.
  }
}

const eventLoop = new EventLoopMonitor();
let eventLoopStarted = false;

export async function startWorkers(opts: WorkerOptions): Promise<RunningWorkers> {
  const log = opts.log ?? (() => undefined);
  // Read before anything starts: a half-set pair is a configuration error, not a late failure.
  const deployment = opts.deployment === undefined ? workerDeploymentFromEnv() : opts.deployment;
  const dataConverter = dataConverterWith(opts.payloadCodec ?? payloadCodecFromEnv());
  const observe = opts.observability === undefined ? settingsFromEnv() : opts.observability || undefined;
  installRuntime(observe && !runtimeInstalled ? await freeLoopbackPort() : undefined);
  mkdirSync(opts.scratchDir, { recursive: true });
  const health = new WorkerHealth();
  let server: ObservabilityServer | undefined;
  if (observe) {
    if (!eventLoopStarted) {
      eventLoop.start();
      eventLoopStarted = true;
    }
    // Up before the models load, so a startup probe sees a live process that is not ready yet.
    server = await startObservabilityServer({
      registry: registryFor('worker'),
      port: observe.port,
      host: observe.host,
      live: [eventLoop.check(observe.maxLagMs), health.liveCheck(observe.pollWindowMs)],
      ready: health.readyChecks(),
      ...(sdkMetricsUrl ? { extraMetrics: () => scrapeText(sdkMetricsUrl as string) } : {}),
    });
    log(`metrics and health on ${server.url} (/metrics, /healthz, /readyz)`);
  }
  try {
    return await startWorkersServing(
      { ...opts, deployment: deployment ?? false },
      log,
      dataConverter,
      health,
      server,
    );
  } catch (err) {
    await server?.close();
    throw err;
  }
}

async function startWorkersServing(
  opts: WorkerOptions,
  log: (line: string) => void,
  dataConverter: ReturnType<typeof dataConverterWith>,
  health: WorkerHealth,
  server: ObservabilityServer | undefined,
): Promise<RunningWorkers> {
  if (opts.noiseThreads !== undefined) setNoiseThreads(opts.noiseThreads);
  const models = new ModelCache(
    {
      intraOpThreads: opts.intraOpThreads ?? 1,
      ...(opts.modelThreads !== undefined ? { modelThreads: opts.modelThreads } : {}),
      ...(opts.executionProviders ? { executionProviders: opts.executionProviders } : {}),
    },
    opts.accelerators,
  );
  if (opts.warmPack) {
    const roles = [...new Set(opts.queues.flatMap((q) => QUEUE_MODELS[q]))];
    await models.warm(opts.warmPack, roles);
    log(`loaded ${roles.join(', ') || 'no models'} from ${opts.warmPack}`);
  }
  health.modelsLoaded();
  modelsLoaded.set(1);
  // TLS, API key and gRPC metadata (src/config/temporal-env.ts).
  const connection = await NativeConnection.connect({
    address: opts.temporalAddress,
    ...temporalConnectOptions(),
  });
  const activities = createActivities({
    // Counts artifact bytes read and written (vldm_artifact_bytes_total).
    store: meteredStore(opts.store),
    events: opts.events,
    models,
    scratchDir: opts.scratchDir,
  });
  // Only the right workers serve a job: a task whose job names another store or pack is refused (./fleet.ts).
  const fleet = fleetInterceptor({ store: opts.store.identity, packDigest: (l) => models.loadedDigest(l) });
  const grace = opts.shutdownGraceMs ?? 30_000;
  // Traced when the process started tracing (`vldm worker` does when OTEL_EXPORTER_OTLP_ENDPOINT is set).
  const tracing = workerTracing();
  const deployment = opts.deployment || undefined;
  const workers: Worker[] = [];
  const watched: Parameters<WorkerHealth['watch']>[0] = [];
  try {
    if (opts.queues.includes('orchestration')) await checkSearchAttributes(connection, opts.namespace, log);
    for (const q of opts.queues) {
      const concurrency = opts.concurrency?.[q] ?? DEFAULT_CONCURRENCY[q];
      const common = {
        connection,
        namespace: opts.namespace,
        taskQueue: TASK_QUEUES[q],
        shutdownGraceTime: grace,
        ...(dataConverter ? { dataConverter } : {}),
        // Activity pollers join the version too: a pinned job's activities then run on its own
        // version's code, so an upgrade mid-job cannot change the bytes it writes.
        ...(deployment
          ? {
              workerDeploymentOptions: {
                version: deployment,
                useWorkerVersioning: true as const,
                defaultVersioningBehavior: 'PINNED' as const,
              },
            }
          : {}),
      };
      workers.push(
        q === 'orchestration'
          ? await Worker.create({
              ...common,
              workflowBundle:
                opts.workflowBundle ??
                (await workflowBundle(
                  dataConverter?.failureConverterPath,
                  tracing && [...tracing.workflowModules, workflowModule('tracing')],
                )),
              maxConcurrentWorkflowTaskExecutions: concurrency,
              ...(tracing ? { sinks: tracing.sinks } : {}),
            })
          : await Worker.create({
              ...common,
              activities: pick(activities, QUEUE_ACTIVITIES[q]),
              maxConcurrentActivityTaskExecutions: concurrency,
              // The tracing interceptor first: it makes the span the metrics interceptor annotates.
              interceptors: {
                activity: [
                  ...(tracing?.activity ?? []),
                  activityMetricsInterceptor,
                  ...(opts.accelerators ? [opts.accelerators.interceptor] : []),
                  fleet,
                ],
              },
            }),
      );
      watched.push({
        queue: TASK_QUEUES[q],
        worker: workers[workers.length - 1],
        orchestration: q === 'orchestration',
        slots: concurrency,
      });
      log(
        `worker polling ${TASK_QUEUES[q]} (concurrency ${concurrency}${deployment ? `, version ${deployment.deploymentName}.${deployment.buildId}` : ''}${q === 'orchestration' ? '' : `, store ${opts.store.identity}`})`,
      );
    }
  } catch (err) {
    await connection.close();
    throw err;
  }
  const done = Promise.all(workers.map((w) => w.run())).then(
    async () => {
      health.stop();
      await flushTracing();
      await server?.close();
      await models.close();
      await connection.close();
    },
    async (err: unknown) => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      health.stop();
      await server?.close();
      await models.close();
      await connection.close();
      throw err;
    },
  );
  health.watch(watched);
  return {
    done,
    models,
    ...(server ? { observability: { url: server.url, port: server.port } } : {}),
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}
