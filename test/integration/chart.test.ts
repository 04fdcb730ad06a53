/**
 * The Helm chart (charts/vldm) and the images (infra/docker), checked with the real `helm` built by
 * infra/setup.sh: `helm lint --strict`, the rendered manifests of several values sets parsed and
 * asserted field by field, bad values refused with the expected message (by values.schema.json or by
 * templates/validate.yaml), the exec probe script run against a real health server, the metrics
 * Services, ServiceMonitor and Grafana dashboard, and the commands the chart and the Dockerfiles start
 * checked against the real `vldm` CLI.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { QUEUE_ROLES } from '../../src/common/names';
import { CONFIG_ENV } from '../../src/config/config';
import { TEMPORAL_TLS_ENV } from '../../src/config/tls';
import { STORE_ENV } from '../../src/storage/config';
import { parseQueues } from '../../src/cli/commands/worker';
import { CODEC_ENV } from '../../src/security/keys';
import { parsePoolsConfig } from '../../src/scaling/pools';
import { findTool } from '../../src/dev/tools';
import { METRICS_ENV } from '../../src/observability/health';
import { LOG_FORMAT_ENV } from '../../src/observability/log';
import { startObservabilityServer } from '../../src/observability/server';
import { processRegistry } from '../../src/observability/metrics';
import { repoRoot } from '../../src/host/paths';
import type { KubeCluster } from '../support/kube-control-plane';
import { kubeRequest, serviceAccountUser } from '../support/kube-rest';
import { testKube, testNamespace } from '../support/kube';

const ROOT = repoRoot();
const CHART = path.join(ROOT, 'charts', 'vldm');
const DOCKER = path.join(ROOT, 'infra', 'docker');
const PROBE = path.join(DOCKER, 'probe.sh');
const VLDM = path.join(ROOT, 'bin', 'vldm.js');
const RELEASE = 'rel';
const NAMESPACE = 'video';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vldm-chart-'));

/** Read by the Temporal SDK logger setup in src/worker/workers.ts. */
const WORKER_ENV = ['VLDM_LOG_LEVEL'];

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // Manifests are checked field by field; their shapes are Kubernetes', not ours.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
}

let helmBin: string;

function helm(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(helmBin, args, {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      ...process.env,
      HELM_CACHE_HOME: path.join(tmp, 'cache'),
      HELM_CONFIG_HOME: path.join(tmp, 'config'),
      HELM_DATA_HOME: path.join(tmp, 'data'),
    },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let valuesCount = 0;
function valuesFile(values: object): string {
  const f = path.join(tmp, `values-${++valuesCount}.yaml`);
  writeFileSync(f, stringify(values));
  return f;
}

/** `helm template` with the given values; throws with helm's message when it fails. */
function render(values: object = {}): K8sObject[] {
  const r = helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, '-f', valuesFile(values)]);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length) throw new Error(`helm rendered invalid YAML: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

function find(objs: K8sObject[], kind: string, name: string): K8sObject {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o)
    throw new Error(`no ${kind} ${name} in: ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

const workerDeployments = (objs: K8sObject[]) =>
  objs.filter(
    (o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/component'] === 'worker',
  );
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const container = (d: K8sObject, name: string): any =>
  d.spec.template.spec.containers.find((c: { name: string }) => c.name === name);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const envOf = (c: any): Record<string, any> =>
  Object.fromEntries((c.env ?? []).map((e: { name: string }) => [e.name, e]));

beforeAll(() => {
  const found = findTool('helm');
  if (!found)
    throw new Error(
      'helm not found in .tools/bin or on PATH: run infra/setup.sh (it builds helm from its Go module)',
    );
  helmBin = found;
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('helm lint --strict', () => {
  it('is clean with the default values', () => {
    const r = helm(['lint', '--strict', CHART]);
    expect(r.stdout + r.stderr, r.stdout + r.stderr).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('is clean with every optional feature on', () => {
    const r = helm(['lint', '--strict', CHART, '-f', valuesFile(allFeatures)]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
  });
});

/** S3 pack, MinIO endpoint with a credentials Secret, Temporal TLS, the payload codec, the Temporal UI. */
const allFeatures = {
  temporal: {
    address: 'frontend.temporal.example:7233',
    namespace: 'video',
    uiUrl: 'https://temporal.example',
    tls: {
      enabled: true,
      existingSecret: 'temporal-client',
      caKey: 'ca.crt',
      serverName: 'frontend.temporal.example',
    },
  },
  nats: {
    url: 'nats://nats.vldm:4222',
    auth: { existingSecret: 'nats-creds', userKey: 'user', passwordKey: 'password' },
  },
  store: {
    s3: {
      bucket: 'renders',
      prefix: 'jobs/',
      endpoint: 'http://minio.minio:9000',
      existingSecret: 's3-creds',
      accessKeyIdKey: 'id',
      secretAccessKeyKey: 'secret',
    },
  },
  modelPack: { source: 's3', path: '/packs/reference', s3: { uri: 's3://packs/reference' } },
  codec: { enabled: true, existingSecret: 'codec', key: 'k1' },
  observability: {
    port: 9100,
    serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
    grafanaDashboard: { enabled: true, annotations: { grafana_folder: 'vldm' } },
  },
};

describe('the default install', () => {
  let objs: K8sObject[];
  beforeAll(() => {
    objs = render();
  });

  it('has one worker Deployment per pool, serving its queues with the CLI flags the chart sets', () => {
    const byPool = Object.fromEntries(
      workerDeployments(objs).map((d) => [d.metadata.labels!['vldm.dev/pool'], d]),
    );
    expect(Object.keys(byPool).sort()).toEqual(['cpu', 'keyframe', 'render-ondemand', 'render-spot']);
    const expected: Record<string, string> = {
      cpu: 'orchestration,media',
      keyframe: 'keyframe',
      'render-spot': 'interpolation,decode,upscale',
      'render-ondemand': 'interpolation,decode,upscale',
    };
    for (const [pool, queues] of Object.entries(expected)) {
      const d = byPool[pool]!;
      expect(d.metadata.name).toBe(`${RELEASE}-vldm-${pool}`);
      expect(container(d, 'worker').args).toEqual(['worker', '--queues', queues, '--grace-seconds', '60']);
      expect(d.metadata.annotations!['vldm.dev/queues']).toBe(queues);
    }
  });

  it('sizes GPU and CPU pools from their values', () => {
    const cpu = find(objs, 'Deployment', `${RELEASE}-vldm-cpu`);
    const spot = find(objs, 'Deployment', `${RELEASE}-vldm-render-spot`);
    const keyframe = find(objs, 'Deployment', `${RELEASE}-vldm-keyframe`);
    // The scaler owns the replica counts: no Deployment carries one (GitOps-safe, see below).
    expect(cpu.spec.replicas).toBeUndefined();
    expect(spot.spec.replicas).toBeUndefined();
    expect(container(spot, 'worker').resources.limits['nvidia.com/gpu']).toBe(1);
    expect(container(spot, 'worker').resources.limits.memory).toBe('32Gi');
    expect(container(cpu, 'worker').resources.limits['nvidia.com/gpu']).toBeUndefined();
    expect(container(spot, 'worker').image).toBe('vldm-worker-gpu:0.1.0');
    expect(container(cpu, 'worker').image).toBe('vldm-worker-cpu:0.1.0');
    expect(spot.spec.template.metadata.labels['vldm.dev/capacity']).toBe('spot');
    expect(keyframe.spec.template.metadata.labels['vldm.dev/capacity']).toBe('on-demand');
    expect(spot.spec.template.spec.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(envOf(container(spot, 'worker')).VLDM_EXECUTION_PROVIDERS.value).toBe('cuda,cpu');
    expect(envOf(container(cpu, 'worker')).VLDM_EXECUTION_PROVIDERS).toBeUndefined();
    expect(envOf(container(cpu, 'worker')).VLDM_THREADS.value).toBe('2');
    // A rollout must not ask for an extra GPU node.
    expect(spot.spec.strategy.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
  });

  it('runs workers non-root on a read-only root with writable emptyDirs, longer grace than the worker, no API token', () => {
    for (const d of workerDeployments(objs)) {
      const pod = d.spec.template.spec;
      const c = container(d, 'worker');
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      expect(c.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
        Number(c.args[c.args.indexOf('--grace-seconds') + 1]),
      );
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.serviceAccountName).toBe(`${RELEASE}-vldm-worker`);
      const mounts = Object.fromEntries(
        c.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]),
      );
      expect(mounts['/tmp']).toBe('tmp');
      expect(mounts['/var/lib/vldm']).toBe('state');
      for (const name of ['tmp', 'state'])
        expect(pod.volumes.find((v: { name: string }) => v.name === name).emptyDir).toBeDefined();
    }
  });

  it('probes workers and the scaler over HTTP on the metrics port: /healthz live, /readyz ready and started', () => {
    const c = container(find(objs, 'Deployment', `${RELEASE}-vldm-keyframe`), 'worker');
    expect(c.ports).toEqual([{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.startupProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBe(600);
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'])
      expect(c[probe].exec).toBeUndefined();
    const s = container(find(objs, 'Deployment', `${RELEASE}-vldm-scaler`), 'scaler');
    expect(s.ports).toEqual([{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    expect(s.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(s.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    // The processes serve the port the probes name (src/observability/health.ts reads it).
    const cm = find(objs, 'ConfigMap', `${RELEASE}-vldm-env`).data;
    expect(cm[METRICS_ENV.port]).toBe('9464');
    expect(cm[METRICS_ENV.maxLag]).toBe('30');
    expect(cm[METRICS_ENV.pollWindow]).toBe('300');
    expect(cm[LOG_FORMAT_ENV]).toBe('text');
  });

  it('has a headless metrics Service per component selecting exactly its pods; no ServiceMonitor or dashboard', () => {
    const services = objs.filter((o) => o.kind === 'Service');
    const deployments = objs.filter((o) => o.kind === 'Deployment');
    expect(services.map((o) => o.metadata.name).sort()).toEqual(
      deployments.map((o) => o.metadata.name).sort(),
    );
    for (const svc of services) {
      const d = find(objs, 'Deployment', svc.metadata.name);
      expect(svc.spec.selector).toEqual(d.spec.selector.matchLabels);
      expect(svc.spec.clusterIP).toBe('None');
      expect(svc.spec.ports).toEqual([
        { name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' },
      ]);
      expect(svc.metadata.labels?.['vldm.dev/metrics']).toBe('true');
    }
    expect(objs.some((o) => o.kind === 'ServiceMonitor')).toBe(false);
    expect(objs.some((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard'))).toBe(false);
  });

  it('carries the recommended labels, and selectors that match the pod labels', () => {
    for (const o of objs) {
      expect(o.metadata.labels, `${o.kind}/${o.metadata.name}`).toMatchObject({
        'app.kubernetes.io/name': 'vldm',
        'app.kubernetes.io/instance': RELEASE,
        'app.kubernetes.io/version': '0.1.0',
        'app.kubernetes.io/managed-by': 'Helm',
        'app.kubernetes.io/part-of': 'vldm',
        'helm.sh/chart': 'vldm-0.1.0',
      });
    }
    for (const d of objs.filter((o) => o.kind === 'Deployment')) {
      expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
      expect(d.spec.selector.matchLabels['app.kubernetes.io/version']).toBeUndefined();
    }
  });

  it('puts only settings vldm reads into the ConfigMap, and every pod reads it', () => {
    const cm = find(objs, 'ConfigMap', `${RELEASE}-vldm-env`);
    const known = [
      ...Object.values(CONFIG_ENV),
      ...Object.values(STORE_ENV),
      ...Object.values(CODEC_ENV),
      ...Object.values(TEMPORAL_TLS_ENV),
      ...WORKER_ENV,
      ...Object.values(METRICS_ENV),
      LOG_FORMAT_ENV,
    ];
    for (const key of Object.keys(cm.data)) expect(known, `ConfigMap key ${key}`).toContain(key);
    expect(cm.data).toMatchObject({
      VLDM_TEMPORAL_ADDRESS: 'temporal-frontend.temporal.svc:7233',
      VLDM_TEMPORAL_NAMESPACE: 'default',
      VLDM_STORE: 's3://vldm/vldm',
      VLDM_NATS_URL: 'off',
      VLDM_PACK: '/opt/vldm/models/reference',
      VLDM_STATE_DIR: '/var/lib/vldm',
      AWS_REGION: 'us-east-1',
    });
    for (const d of objs.filter((o) => o.kind === 'Deployment')) {
      expect(d.spec.template.spec.containers[0].envFrom).toEqual([
        { configMapRef: { name: `${RELEASE}-vldm-env` } },
      ]);
      expect(d.spec.template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('has a PodDisruptionBudget per pool selecting exactly its pods, and one for the two scalers', () => {
    for (const d of workerDeployments(objs)) {
      const pdb = find(objs, 'PodDisruptionBudget', d.metadata.name);
      expect(pdb.apiVersion).toBe('policy/v1');
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
    }
    expect(find(objs, 'PodDisruptionBudget', `${RELEASE}-vldm-scaler`).spec.maxUnavailable).toBe(1);
  });

  it('gives the scaler a least-privilege Role, bound to its own ServiceAccount', () => {
    const role = find(objs, 'Role', `${RELEASE}-vldm-scaler`);
    const pools = workerDeployments(objs)
      .map((d) => d.metadata.name)
      .sort();
    expect(role.rules).toEqual([
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] },
      {
        apiGroups: ['apps'],
        resources: ['deployments/scale'],
        resourceNames: pools,
        verbs: ['get', 'patch', 'update'],
      },
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
      { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: [`${RELEASE}-vldm-scaler`],
        verbs: ['get', 'update'],
      },
    ]);
    expect(JSON.stringify(role.rules)).not.toMatch(/secrets|delete|"\*"|escalate|bind|impersonate/);
    expect(objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).toEqual([]);
    const binding = find(objs, 'RoleBinding', `${RELEASE}-vldm-scaler`);
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: `${RELEASE}-vldm-scaler`,
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: `${RELEASE}-vldm-scaler`, namespace: NAMESPACE },
    ]);
    const scaler = find(objs, 'Deployment', `${RELEASE}-vldm-scaler`);
    expect(scaler.spec.template.spec.serviceAccountName).toBe(`${RELEASE}-vldm-scaler`);
    expect(scaler.spec.replicas).toBe(2);
    // No S3 credentials for a process that never touches the store.
    expect(Object.keys(envOf(container(scaler, 'scaler')))).toEqual(['POD_NAME', 'POD_NAMESPACE']);
  });

  it('describes every pool to the scaler in a pools.json that the scaler accepts', () => {
    const cm = find(objs, 'ConfigMap', `${RELEASE}-vldm-scaler`);
    // The scaler's own parser: unknown keys, missing queues and impossible bounds are errors there.
    const cfg = parsePoolsConfig(JSON.parse(cm.data['pools.json']), 'rendered pools.json');
    expect(cfg).toMatchObject({
      maxPricePerHour: 40,
      defaultDeadlineSeconds: 3600,
      deadlineMarginSeconds: 120,
      damping: { spotPendingTimeoutSeconds: 180, spotRetrySeconds: 900 },
    });
    expect(cfg.damping.scaleDownDelaySeconds).toBeUndefined();
    expect(Object.keys(cfg.secondsPerActivity).sort()).toEqual([...QUEUE_ROLES].sort());
    expect(cfg.pools.find((p) => p.name === 'render-spot')).toEqual({
      name: 'render-spot',
      deployment: `${RELEASE}-vldm-render-spot`,
      queues: ['interpolation', 'decode', 'upscale'],
      gpusPerPod: 1,
      spot: true,
      pricePerHour: 1.1,
      coldStartSeconds: 240,
      minReplicas: 0,
      maxReplicas: 8,
      speedFactor: 1,
      activitiesPerPod: 1,
    });
    expect(cfg.pools.map((p) => p.deployment).sort()).toEqual(
      workerDeployments(objs)
        .map((d) => d.metadata.name)
        .sort(),
    );
    const scaler = container(find(objs, 'Deployment', `${RELEASE}-vldm-scaler`), 'scaler');
    expect(scaler.args).toEqual([
      'scaler',
      'run',
      '--pools',
      '/etc/vldm/scaler/pools.json',
      '--lease',
      `${RELEASE}-vldm-scaler`,
      '--interval',
      '15',
    ]);
    expect(scaler.volumeMounts).toContainEqual({
      name: 'config',
      mountPath: '/etc/vldm/scaler',
      readOnly: true,
    });
  });

  it('passes a set scale-down delay to the scaler', () => {
    const cm = find(
      render({ scaler: { scaleDownDelaySeconds: 600 } }),
      'ConfigMap',
      `${RELEASE}-vldm-scaler`,
    );
    expect(parsePoolsConfig(JSON.parse(cm.data['pools.json'])).damping.scaleDownDelaySeconds).toBe(600);
  });

  it('rolls the pods when the configuration changes, and only then', () => {
    const checksum = (o: K8sObject[], name: string) =>
      find(o, 'Deployment', name).spec.template.metadata.annotations['checksum/config'] as string;
    const cpu = `${RELEASE}-vldm-cpu`;
    const before = checksum(objs, cpu);
    expect(checksum(render({ pools: { keyframe: { maxReplicas: 3 } } }), cpu)).toBe(before);
    expect(checksum(render({ nats: { url: 'nats://nats:4222' } }), cpu)).not.toBe(before);
    const scaler = `${RELEASE}-vldm-scaler`;
    expect(checksum(render({ scaler: { maxPricePerHour: 41 } }), scaler)).not.toBe(checksum(objs, scaler));
  });
});

describe('optional features', () => {
  let objs: K8sObject[];
  beforeAll(() => {
    objs = render(allFeatures);
  });

  it('scrapes every metrics Service with a ServiceMonitor, and ships the Grafana dashboard as a ConfigMap', () => {
    const sm = find(objs, 'ServiceMonitor', `${RELEASE}-vldm`);
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata.labels?.release).toBe('prometheus');
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: [NAMESPACE] });
    expect(sm.spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' },
    ]);
    // Its selector picks every vldm metrics Service and nothing else.
    const selected = objs.filter(
      (o) =>
        o.kind === 'Service' &&
        Object.entries(sm.spec.selector.matchLabels as Record<string, string>).every(
          ([k, v]) => o.metadata.labels?.[k] === v,
        ),
    );
    expect(selected.length).toBe(objs.filter((o) => o.kind === 'Deployment').length);
    for (const svc of selected) expect(svc.spec.ports[0].port).toBe(9100);
    const dash = find(objs, 'ConfigMap', `${RELEASE}-vldm-dashboard`);
    expect(dash.metadata.labels?.grafana_dashboard).toBe('1');
    expect(dash.metadata.annotations).toEqual({ grafana_folder: 'vldm' });
    expect(JSON.parse(dash.data['vldm.json'])).toEqual(
      JSON.parse(readFileSync(path.join(CHART, 'dashboards', 'vldm.json'), 'utf8')),
    );
    const c = container(find(objs, 'Deployment', `${RELEASE}-vldm-keyframe`), 'worker');
    expect(c.ports).toEqual([{ name: 'metrics', containerPort: 9100, protocol: 'TCP' }]);
  });

  it('copies an S3 model pack into the pod before the worker starts, and mounts it read-only', () => {
    const d = find(objs, 'Deployment', `${RELEASE}-vldm-keyframe`);
    const init = d.spec.template.spec.initContainers[0];
    expect(init.name).toBe('fetch-pack');
    expect(init.command).toEqual(['aws', 's3', 'sync', '--only-show-errors', '--no-progress']);
    expect(init.args).toEqual([
      's3://packs/reference',
      '/packs/reference',
      '--endpoint-url',
      'http://minio.minio:9000',
    ]);
    expect(envOf(init).AWS_ACCESS_KEY_ID.valueFrom.secretKeyRef).toEqual({ name: 's3-creds', key: 'id' });
    // A third-party container: only the S3 keys, no NATS credentials, no Temporal or codec Secrets.
    expect(Object.keys(envOf(init)).sort()).toEqual([
      'AWS_ACCESS_KEY_ID',
      'AWS_REGION',
      'AWS_SECRET_ACCESS_KEY',
      'HOME',
    ]);
    expect(init.volumeMounts.map((m: { name: string }) => m.name).sort()).toEqual(['model-pack', 'tmp']);
    expect(init.image).toBe('amazon/aws-cli:2.27.50');
    expect(init.resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '512Mi' },
    });
    expect(init.securityContext.readOnlyRootFilesystem).toBe(true);
    const mount = container(d, 'worker').volumeMounts.find((m: { name: string }) => m.name === 'model-pack');
    expect(mount).toEqual({ name: 'model-pack', mountPath: '/packs/reference', readOnly: true });
    expect(
      d.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'model-pack').emptyDir.sizeLimit,
    ).toBe('4Gi');
    expect(find(objs, 'ConfigMap', `${RELEASE}-vldm-env`).data.VLDM_PACK).toBe('/packs/reference');
  });

  it('takes S3 credentials, Temporal TLS and the codec key from the named Secrets, at the paths it announces', () => {
    const cm = find(objs, 'ConfigMap', `${RELEASE}-vldm-env`).data;
    expect(cm).toMatchObject({
      VLDM_STORE: 's3://renders/jobs',
      VLDM_S3_ENDPOINT: 'http://minio.minio:9000',
      VLDM_NATS_URL: 'nats://nats.vldm:4222',
      VLDM_TEMPORAL_ADDRESS: 'frontend.temporal.example:7233',
      VLDM_TEMPORAL_NAMESPACE: 'video',
      VLDM_TEMPORAL_UI: 'https://temporal.example',
      VLDM_TEMPORAL_TLS_CERT_FILE: '/etc/vldm/temporal-tls/tls.crt',
      VLDM_TEMPORAL_TLS_KEY_FILE: '/etc/vldm/temporal-tls/tls.key',
      VLDM_TEMPORAL_TLS_CA_FILE: '/etc/vldm/temporal-tls/ca.crt',
      VLDM_TEMPORAL_TLS_SERVER_NAME: 'frontend.temporal.example',
      VLDM_CODEC_KEY_FILE: '/etc/vldm/codec/k1',
    });
    for (const name of [`${RELEASE}-vldm-cpu`, `${RELEASE}-vldm-scaler`]) {
      const d = find(objs, 'Deployment', name);
      const c = d.spec.template.spec.containers[0];
      const mounts = Object.fromEntries(
        c.volumeMounts.map((m: { name: string; mountPath: string }) => [m.name, m.mountPath]),
      );
      expect(mounts['temporal-tls']).toBe('/etc/vldm/temporal-tls');
      expect(mounts['codec-key']).toBe('/etc/vldm/codec');
      const volumes = Object.fromEntries(
        d.spec.template.spec.volumes.map((v: { name: string }) => [v.name, v]),
      );
      expect(volumes['temporal-tls'].secret.secretName).toBe('temporal-client');
      expect(volumes['codec-key'].secret).toMatchObject({
        secretName: 'codec',
        items: [{ key: 'k1', path: 'k1' }],
      });
    }
    const worker = envOf(container(find(objs, 'Deployment', `${RELEASE}-vldm-cpu`), 'worker'));
    expect(worker.AWS_SECRET_ACCESS_KEY.valueFrom.secretKeyRef).toEqual({ name: 's3-creds', key: 'secret' });
    // NATS credentials reach every process that uses NATS: the workers and the scaler (no S3 keys there).
    const scaler = envOf(find(objs, 'Deployment', `${RELEASE}-vldm-scaler`).spec.template.spec.containers[0]);
    for (const env of [worker, scaler]) {
      expect(env.VLDM_NATS_USER.valueFrom.secretKeyRef).toEqual({ name: 'nats-creds', key: 'user' });
      expect(env.VLDM_NATS_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'nats-creds', key: 'password' });
      expect(env.VLDM_NATS_TOKEN).toBeUndefined();
    }
    expect(scaler.AWS_SECRET_ACCESS_KEY).toBeUndefined();
  });

  it('mounts a volume pack, per pool when a pool names its own source', () => {
    const o = render({
      modelPack: { source: 'volume', volume: { persistentVolumeClaim: { claimName: 'packs' } } },
      pools: {
        keyframe: {
          modelPack: {
            source: 'volume',
            volume: { persistentVolumeClaim: { claimName: 'packs-zone-b', readOnly: true } },
          },
        },
      },
    });
    const volume = (name: string) =>
      find(o, 'Deployment', name).spec.template.spec.volumes.find(
        (v: { name: string }) => v.name === 'model-pack',
      );
    expect(volume(`${RELEASE}-vldm-render-spot`)).toEqual({
      name: 'model-pack',
      persistentVolumeClaim: { claimName: 'packs' },
    });
    expect(volume(`${RELEASE}-vldm-keyframe`)).toEqual({
      name: 'model-pack',
      persistentVolumeClaim: { claimName: 'packs-zone-b', readOnly: true },
    });
  });

  it('without the scaler: no scaler objects, and every pool at minReplicas', () => {
    const o = render({ scaler: { enabled: false }, pools: { 'render-spot': { minReplicas: 2 } } });
    expect(o.filter((x) => x.metadata.labels?.['app.kubernetes.io/component'] === 'scaler')).toEqual([]);
    expect(find(o, 'Deployment', `${RELEASE}-vldm-render-spot`).spec.replicas).toBe(2);
  });

  it('lets a pool replace a default with false or 0 (defaults are applied key by key, not merged)', () => {
    const o = render({
      scaler: { enabled: false },
      poolDefaults: { spot: true, minReplicas: 1, image: 'gpu', gpu: 1 },
      pools: { keyframe: { spot: false, minReplicas: 0 }, cpu: { gpu: 0, image: 'cpu' } },
    });
    const kf = find(o, 'Deployment', `${RELEASE}-vldm-keyframe`);
    expect(kf.spec.template.metadata.labels['vldm.dev/capacity']).toBe('on-demand');
    expect(kf.spec.replicas).toBe(0);
    expect(
      container(find(o, 'Deployment', `${RELEASE}-vldm-cpu`), 'worker').resources.limits['nvidia.com/gpu'],
    ).toBeUndefined();
  });

  it('adds a pool from the defaults and drops a disabled one', () => {
    const o = render({
      pools: {
        'upscale-a100': {
          queues: ['upscale'],
          image: 'gpu',
          gpu: 2,
          spot: true,
          nodeSelector: { 'gpu.example/class': 'a100' },
        },
        keyframe: { enabled: false },
        'render-spot': { queues: ['interpolation', 'decode', 'upscale', 'keyframe'] },
      },
    });
    const d = find(o, 'Deployment', `${RELEASE}-vldm-upscale-a100`);
    expect(d.spec.template.spec.nodeSelector).toEqual({ 'gpu.example/class': 'a100' });
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBe(90);
    expect(container(d, 'worker').resources.limits['nvidia.com/gpu']).toBe(2);
    expect(o.find((x) => x.metadata.name === `${RELEASE}-vldm-keyframe`)).toBeUndefined();
  });
});

/** Every container of every pod template: init containers first, each with its pod's spec. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function containersOf(objs: K8sObject[]): Array<{ owner: string; pod: any; c: any }> {
  return objs
    .filter((o) => o.kind === 'Deployment')
    .flatMap((d) => {
      const pod = d.spec.template.spec;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      return [...(pod.initContainers ?? []), ...pod.containers].map((c: any) => ({
        owner: `${d.metadata.name}/${c.name as string}`,
        pod,
        c,
      }));
    });
}

/** The Secrets a container can read: through its env and through the volumes it mounts. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function secretsOf(pod: any, c: any): string[] {
  const names = new Set<string>();
  for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) names.add(e.valueFrom.secretKeyRef.name);
  for (const e of c.envFrom ?? []) if (e.secretRef) names.add(e.secretRef.name);
  for (const m of c.volumeMounts ?? []) {
    const v = pod.volumes.find((x: { name: string }) => x.name === m.name);
    if (v?.secret) names.add(v.secret.secretName);
  }
  return [...names].sort();
}

const DIGEST = (n: number) => `sha256:${String(n).repeat(64)}`;

describe('least privilege', () => {
  const everything = {
    ...allFeatures,
    images: {
      workerGpu: { repository: 'vldm-worker-gpu', digest: DIGEST(1) },
      workerCpu: { repository: 'vldm-worker-cpu', digest: DIGEST(2) },
      scaler: { repository: 'vldm-scaler', digest: DIGEST(3) },
    },
    modelPack: {
      ...allFeatures.modelPack,
      s3: {
        ...allFeatures.modelPack.s3,
        image: { repository: 'mirror.example/aws-cli', tag: '2.27.50', digest: DIGEST(4) },
      },
    },
  };

  it('gives each container only the Secrets it uses', () => {
    const byOwner = Object.fromEntries(
      containersOf(render(allFeatures)).map((x) => [x.owner, secretsOf(x.pod, x.c)]),
    );
    const worker = ['codec', 'nats-creds', 's3-creds', 'temporal-client'];
    expect(byOwner).toEqual({
      [`${RELEASE}-vldm-cpu/fetch-pack`]: ['s3-creds'],
      [`${RELEASE}-vldm-cpu/worker`]: worker,
      [`${RELEASE}-vldm-keyframe/fetch-pack`]: ['s3-creds'],
      [`${RELEASE}-vldm-keyframe/worker`]: worker,
      [`${RELEASE}-vldm-render-spot/fetch-pack`]: ['s3-creds'],
      [`${RELEASE}-vldm-render-spot/worker`]: worker,
      [`${RELEASE}-vldm-render-ondemand/fetch-pack`]: ['s3-creds'],
      [`${RELEASE}-vldm-render-ondemand/worker`]: worker,
      [`${RELEASE}-vldm-scaler/scaler`]: ['codec', 'nats-creds', 'temporal-client'],
    });
  });

  it('gives every container resources and an image pinned by digest when digests are set', () => {
    for (const values of [{}, allFeatures, everything]) {
      for (const { owner, c } of containersOf(render(values))) {
        expect(Object.keys(c.resources ?? {}).length, owner).toBeGreaterThan(0);
        expect(c.resources.limits?.memory ?? c.resources.requests?.memory, owner).toBeDefined();
      }
    }
    const images = Object.fromEntries(
      containersOf(render(everything)).map(({ owner, c }) => [owner, c.image]),
    );
    expect(images[`${RELEASE}-vldm-keyframe/fetch-pack`]).toBe(`mirror.example/aws-cli:2.27.50@${DIGEST(4)}`);
    expect(images[`${RELEASE}-vldm-keyframe/worker`]).toBe(`vldm-worker-gpu:0.1.0@${DIGEST(1)}`);
    expect(images[`${RELEASE}-vldm-cpu/worker`]).toBe(`vldm-worker-cpu:0.1.0@${DIGEST(2)}`);
    expect(images[`${RELEASE}-vldm-scaler/scaler`]).toBe(`vldm-scaler:0.1.0@${DIGEST(3)}`);
    for (const [owner, image] of Object.entries(images))
      expect(image, owner).toMatch(/@sha256:[0-9a-f]{64}$/);
  });

  it('refuses a pool whose resources were removed (a null drops the default too)', () => {
    // Helm deletes null keys before the schema sees the values, so the template refuses this one
    // (at template and install; `helm lint` keeps the defaults there).
    const r = helm([
      'template',
      RELEASE,
      CHART,
      '-f',
      valuesFile({ poolDefaults: { resources: null }, pools: { cpu: { resources: null } } }),
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/pools\.cpu has no resources: every container needs requests or limits/);
  });

  it('renders no NetworkPolicy unless asked', () => {
    expect(render(allFeatures).filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
  });

  it('with networkPolicy.enabled: workers reach DNS, Temporal, NATS and S3, the scaler the API; only the metrics port comes in', () => {
    const objs = render({ ...allFeatures, networkPolicy: { enabled: true } });
    const worker = find(objs, 'NetworkPolicy', `${RELEASE}-vldm-worker`);
    const scaler = find(objs, 'NetworkPolicy', `${RELEASE}-vldm-scaler`);
    // Each selects exactly its component's pods.
    for (const d of workerDeployments(objs))
      expect(d.spec.template.metadata.labels).toMatchObject(worker.spec.podSelector.matchLabels);
    expect(worker.spec.podSelector.matchLabels['app.kubernetes.io/component']).toBe('worker');
    expect(scaler.spec.podSelector.matchLabels['app.kubernetes.io/component']).toBe('scaler');
    const dns = {
      to: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
          podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
        },
      ],
      ports: [
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ],
    };
    const temporal = {
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'temporal' } } }],
      ports: [{ port: 7233, protocol: 'TCP' }],
    };
    const nats = { to: [{ namespaceSelector: {} }], ports: [{ port: 4222, protocol: 'TCP' }] };
    for (const p of [worker, scaler]) {
      expect(p.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(p.spec.ingress).toEqual([{ ports: [{ port: 9100, protocol: 'TCP' }] }]);
    }
    // allFeatures' S3 endpoint is http://minio.minio:9000.
    expect(worker.spec.egress).toEqual([
      dns,
      temporal,
      nats,
      { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 9000, protocol: 'TCP' }] },
    ]);
    expect(scaler.spec.egress).toEqual([
      dns,
      temporal,
      nats,
      {
        to: [{ ipBlock: { cidr: '0.0.0.0/0' } }],
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 6443, protocol: 'TCP' },
        ],
      },
    ]);
    // Defaults: AWS S3 on 443, NATS off (no rule), metrics ingress closed or limited when asked.
    const plain = render({
      networkPolicy: {
        enabled: true,
        metrics: {
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        },
      },
    });
    const w = find(plain, 'NetworkPolicy', `${RELEASE}-vldm-worker`);
    expect(w.spec.egress.map((r: { ports: Array<{ port: number }> }) => r.ports[0]!.port)).toEqual([
      53, 7233, 443,
    ]);
    expect(w.spec.ingress[0].from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
    const closed = render({ networkPolicy: { enabled: true, metrics: { enabled: false } } });
    expect(find(closed, 'NetworkPolicy', `${RELEASE}-vldm-worker`).spec.ingress).toEqual([]);
    const noScaler = render({ scaler: { enabled: false }, networkPolicy: { enabled: true } });
    expect(noScaler.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name)).toEqual([
      `${RELEASE}-vldm-worker`,
    ]);
  });

  it('each escape hatch lets through only what it names', () => {
    const hostPath = {
      modelPack: { source: 'volume', volume: { hostPath: { path: '/mnt/packs', type: 'Directory' } } },
    };
    const privileged = { workers: { securityContext: { privileged: true } } };
    const root = { scaler: { podSecurityContext: { runAsUser: 0, runAsNonRoot: false } } };
    const ok = (values: object) => helm(['template', RELEASE, CHART, '-f', valuesFile(values)]);
    expect(ok({ ...hostPath, security: { allowHostPath: true } }).code).toBe(0);
    expect(ok({ ...privileged, security: { allowPrivileged: true } }).code).toBe(0);
    expect(ok({ ...root, security: { allowRoot: true } }).code).toBe(0);
    expect(ok({ ...hostPath, security: { allowPrivileged: true, allowRoot: true } }).code).not.toBe(0);
    expect(ok({ ...privileged, security: { allowHostPath: true, allowRoot: true } }).code).not.toBe(0);
    expect(ok({ ...root, security: { allowHostPath: true, allowPrivileged: true } }).code).not.toBe(0);
    const rendered = find(
      render({ ...hostPath, security: { allowHostPath: true } }),
      'Deployment',
      `${RELEASE}-vldm-keyframe`,
    );
    expect(rendered.spec.template.spec.volumes).toContainEqual({
      name: 'model-pack',
      hostPath: { path: '/mnt/packs', type: 'Directory' },
    });
  });
});

describe('on a real API server (kube-apiserver + etcd, test/support/kube.ts)', () => {
  let cluster: KubeCluster;
  let ns: string;
  let install: { code: number | null; stdout: string; stderr: string };
  const kube = (args: string[]) => helm([...args, '--kubeconfig', cluster.kubeconfigPath, '--namespace', ns]);
  const scalerUser = () => ({
    impersonateUser: serviceAccountUser(ns, `${RELEASE}-vldm-scaler`),
    impersonateGroups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
  });
  const replicas = async (pool: string) => {
    const r = await kubeRequest(cluster, {
      method: 'GET',
      path: `/apis/apps/v1/namespaces/${ns}/deployments/${RELEASE}-vldm-${pool}`,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return (r.body as { spec: { replicas: number } }).spec.replicas;
  };

  beforeAll(async () => {
    cluster = await testKube();
    ns = await testNamespace(cluster, 'chart');
    install = kube(['install', RELEASE, CHART, '--set', 'temporal.uiUrl=https://temporal.example']);
  });

  it('helm install creates every object, and NOTES.txt says how to submit a job and open the Temporal UI', async () => {
    expect(install.code, install.stderr).toBe(0);
    const notes = install.stdout.slice(install.stdout.indexOf('NOTES:'));
    expect(notes).toContain(
      `kubectl -n ${ns} exec deploy/${RELEASE}-vldm-cpu -- node /opt/vldm/bin/vldm.js submit --seconds 10`,
    );
    expect(notes).toContain(
      'vldm submit --temporal-address 127.0.0.1:7233 --namespace default --pack /opt/vldm/models/reference',
    );
    expect(notes).toContain('https://temporal.example/namespaces/default/workflows');
    expect(notes).toContain(`kubectl -n ${ns} port-forward deploy/${RELEASE}-vldm-cpu 9464`);
    expect(notes).toContain('(/metrics, /healthz, /readyz)');
    // Rendered without replicas (the scaler owns them): the API server's default, one, until the
    // scaler's first round sizes each pool.
    expect(await replicas('cpu')).toBe(1);
    expect(await replicas('render-spot')).toBe(1);
  });

  it("the scaler's identity can scale the worker pools and hold its Lease, and nothing else", async () => {
    const as = scalerUser();
    const scale = (name: string, n: number) =>
      kubeRequest(cluster, {
        method: 'PATCH',
        path: `/apis/apps/v1/namespaces/${ns}/deployments/${name}/scale`,
        contentType: 'application/merge-patch+json',
        body: { spec: { replicas: n } },
        ...as,
      });
    expect((await scale(`${RELEASE}-vldm-render-spot`, 3)).status).toBe(200);
    expect(await replicas('render-spot')).toBe(3);
    // Not its own Deployment, and no other verb than the ones it needs.
    expect((await scale(`${RELEASE}-vldm-scaler`, 5)).status).toBe(403);
    const get = (path: string) => kubeRequest(cluster, { method: 'GET', path, ...as });
    expect((await get(`/apis/apps/v1/namespaces/${ns}/deployments`)).status).toBe(200);
    expect((await get(`/api/v1/namespaces/${ns}/pods`)).status).toBe(200);
    expect((await get(`/api/v1/namespaces/${ns}/secrets`)).status).toBe(403);
    expect((await get(`/api/v1/namespaces/default/pods`)).status).toBe(403);
    expect(
      (await kubeRequest(cluster, { method: 'DELETE', path: `/api/v1/namespaces/${ns}/pods/any`, ...as }))
        .status,
    ).toBe(403);
    expect(
      (
        await kubeRequest(cluster, {
          method: 'DELETE',
          path: `/apis/apps/v1/namespaces/${ns}/deployments/${RELEASE}-vldm-cpu`,
          ...as,
        })
      ).status,
    ).toBe(403);
    const lease = (name: string) => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name },
      spec: { holderIdentity: 'test' },
    });
    const leases = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
    expect(
      (
        await kubeRequest(cluster, {
          method: 'POST',
          path: leases,
          body: lease(`${RELEASE}-vldm-scaler`),
          ...as,
        })
      ).status,
    ).toBe(201);
    expect((await get(`${leases}/${RELEASE}-vldm-scaler`)).status).toBe(200);
    expect(
      (await kubeRequest(cluster, { method: 'POST', path: leases, body: lease('other'), ...as })).status,
    ).toBe(201);
    expect((await get(`${leases}/other`)).status).toBe(403);
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'scaled.1' },
      involvedObject: { kind: 'Deployment', namespace: ns, name: `${RELEASE}-vldm-render-spot` },
      reason: 'Scaled',
      message: 'test',
      type: 'Normal',
    };
    expect(
      (
        await kubeRequest(cluster, {
          method: 'POST',
          path: `/api/v1/namespaces/${ns}/events`,
          body: event,
          ...as,
        })
      ).status,
    ).toBe(201);
  });

  it("the scaler's replica counts survive helm upgrade and GitOps re-applies; without the scaler minReplicas", async () => {
    const scale = (pool: string, n: number) =>
      kubeRequest(cluster, {
        method: 'PATCH',
        path: `/apis/apps/v1/namespaces/${ns}/deployments/${RELEASE}-vldm-${pool}/scale`,
        contentType: 'application/merge-patch+json',
        body: { spec: { replicas: n } },
        ...scalerUser(),
      });
    expect((await scale('keyframe', 2)).status).toBe(200);
    expect((await scale('render-spot', 3)).status).toBe(200);
    const set = ['--set', 'temporal.uiUrl=https://temporal.example', '--set', 'nats.url=nats://nats:4222'];
    const up = kube(['upgrade', RELEASE, CHART, ...set]);
    expect(up.code, up.stderr).toBe(0);
    expect([await replicas('keyframe'), await replicas('render-spot'), await replicas('cpu')]).toEqual([
      2, 3, 1,
    ]);

    // GitOps: Argo CD and Flux render the chart without a cluster and apply what comes out, on every sync.
    const rendered = helm(['template', RELEASE, CHART, '--namespace', ns, ...set]);
    expect(rendered.code, rendered.stderr).toBe(0);
    const deployments = parseAllDocuments(rendered.stdout)
      .map((d) => d.toJS() as K8sObject | null)
      .filter((o): o is K8sObject => o?.kind === 'Deployment');
    expect(deployments.length).toBe(5);
    for (const d of deployments) {
      const at = `/apis/apps/v1/namespaces/${ns}/deployments/${d.metadata.name}`;
      // Server-side apply under a GitOps controller's field manager, taking over every field it sends
      // (force), as Argo CD's ServerSideApply=true does ...
      const ssa = await kubeRequest(cluster, {
        method: 'PATCH',
        path: `${at}?fieldManager=argocd-controller&force=true`,
        contentType: 'application/apply-patch+yaml',
        body: d,
      });
      expect(ssa.status, JSON.stringify(ssa.body)).toBe(200);
      // ... and a client-side apply (strategic merge of the whole rendered object), as kubectl apply does.
      const csa = await kubeRequest(cluster, {
        method: 'PATCH',
        path: at,
        contentType: 'application/strategic-merge-patch+json',
        body: d,
      });
      expect(csa.status, JSON.stringify(csa.body)).toBe(200);
    }
    expect([await replicas('keyframe'), await replicas('render-spot'), await replicas('cpu')]).toEqual([
      2, 3, 1,
    ]);
    // The scaler still owns the count after the re-apply: it can change it, and the next sync keeps it.
    expect((await scale('keyframe', 1)).status).toBe(200);
    const again = kube(['upgrade', RELEASE, CHART, ...set, '--set', 'scaler.intervalSeconds=20']);
    expect(again.code, again.stderr).toBe(0);
    expect(await replicas('keyframe')).toBe(1);

    const off = kube(['upgrade', RELEASE, CHART, '--set', 'scaler.enabled=false']);
    expect(off.code, off.stderr).toBe(0);
    expect([await replicas('keyframe'), await replicas('render-spot'), await replicas('cpu')]).toEqual([
      0, 0, 1,
    ]);
    expect(
      (
        await kubeRequest(cluster, {
          method: 'GET',
          path: `/apis/apps/v1/namespaces/${ns}/deployments/${RELEASE}-vldm-scaler`,
        })
      ).status,
    ).toBe(404);
  });

  it('renders byte-identical output whatever the cluster holds (no lookup), and the NetworkPolicies install', async () => {
    // No template calls Helm's lookup (comments may name it).
    for (const f of readdirSync(path.join(CHART, 'templates')))
      expect(readFileSync(path.join(CHART, 'templates', f), 'utf8'), f).not.toMatch(/\blookup\s+"/);
    const other = await testNamespace(cluster, 'chart-gitops');
    // Every optional feature but the ServiceMonitor, whose CRD this API server does not have.
    const values = valuesFile({
      ...allFeatures,
      observability: { ...allFeatures.observability, serviceMonitor: { enabled: false } },
      networkPolicy: { enabled: true },
    });
    const at = (args: string[]) =>
      helm([...args, '--kubeconfig', cluster.kubeconfigPath, '--namespace', other, '-f', values]);
    // --dry-run=server lets the chart read the cluster (Helm's lookup works there): an empty namespace...
    const empty = at(['template', RELEASE, CHART, '--dry-run=server']);
    expect(empty.code, empty.stderr).toBe(0);
    // ... and one where the release is installed and the scaler has sized the pools.
    const installed = at(['install', RELEASE, CHART]);
    expect(installed.code, installed.stderr).toBe(0);
    for (const [pool, n] of [
      ['keyframe', 2],
      ['render-spot', 4],
    ] as const) {
      const r = await kubeRequest(cluster, {
        method: 'PATCH',
        path: `/apis/apps/v1/namespaces/${other}/deployments/${RELEASE}-vldm-${pool}/scale`,
        contentType: 'application/merge-patch+json',
        body: { spec: { replicas: n } },
      });
      expect(r.status).toBe(200);
    }
    const sized = at(['template', RELEASE, CHART, '--dry-run=server']);
    expect(sized.code, sized.stderr).toBe(0);
    expect(sized.stdout).toBe(empty.stdout);
    expect(sized.stdout).toContain('kind: NetworkPolicy');
    // The API server accepted both NetworkPolicies (its validation is the real one; nothing enforces
    // them here: there is no CNI).
    for (const name of ['worker', 'scaler']) {
      const r = await kubeRequest(cluster, {
        method: 'GET',
        path: `/apis/networking.k8s.io/v1/namespaces/${other}/networkpolicies/${RELEASE}-vldm-${name}`,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
  });
});

/** Each bad values set, and the message that must refuse it. */
const BAD_VALUES: Array<{ what: string; by: 'schema' | 'template'; values: object; message: RegExp }> = [
  // values.schema.json
  {
    what: 'negative replicas',
    by: 'schema',
    values: { pools: { cpu: { minReplicas: -1 } } },
    message: /pools\/cpu\/minReplicas.*minimum/,
  },
  {
    what: 'an unknown queue name',
    by: 'schema',
    values: { pools: { cpu: { queues: ['orchestration', 'medai'] } } },
    message: /pools\/cpu\/queues\/1.*(orchestration.*media|enum|value must be one of)/,
  },
  {
    what: 'a metrics port out of range',
    by: 'schema',
    values: { observability: { port: 70000 } },
    message: /observability\/port.*maximum/,
  },
  {
    what: 'an unknown log format',
    by: 'schema',
    values: { observability: { logFormat: 'xml' } },
    message: /observability\/logFormat.*(enum|value must be one of)/,
  },
  {
    what: 'a negative price',
    by: 'schema',
    values: { pools: { keyframe: { pricePerHour: -0.5 } } },
    message: /pools\/keyframe\/pricePerHour.*minimum/,
  },
  {
    what: 'a missing Temporal address',
    by: 'schema',
    values: { temporal: { address: '' } },
    message: /temporal\/address.*(pattern|does not match)/,
  },
  {
    what: 'a Temporal address without a port',
    by: 'schema',
    values: { temporal: { address: 'temporal-frontend' } },
    message: /temporal\/address/,
  },
  {
    what: 'a GPU count that is not an integer',
    by: 'schema',
    values: { pools: { keyframe: { gpu: 1.5 } } },
    message: /pools\/keyframe\/gpu.*(integer|want integer)/,
  },
  {
    what: 'a misspelled pool key',
    by: 'schema',
    values: { pools: { keyframe: { maxReplica: 3 } } },
    message: /pools\/keyframe.*(additional properties|maxReplica)/i,
  },
  {
    what: 'an invalid bucket name',
    by: 'schema',
    values: { store: { s3: { bucket: 'My_Bucket' } } },
    message: /store\/s3\/bucket/,
  },
  {
    what: 'a pool name that is not a DNS label',
    by: 'schema',
    values: { pools: { GPU_Pool: { queues: ['upscale'] } } },
    message: /invalid propertyName 'GPU_Pool'[\s\S]*does not match pattern/,
  },
  {
    what: 'an unknown model pack source',
    by: 'schema',
    values: { modelPack: { source: 'http' } },
    message: /modelPack\/source/,
  },
  {
    what: 'a NATS URL of another scheme',
    by: 'schema',
    values: { nats: { url: 'http://nats:4222' } },
    message: /nats\/url/,
  },
  // templates/validate.yaml
  {
    what: 'minReplicas above maxReplicas',
    by: 'template',
    values: { pools: { keyframe: { minReplicas: 3, maxReplicas: 2 } } },
    message: /pools\.keyframe: minReplicas \(3\) must not exceed maxReplicas \(2\)/,
  },
  {
    what: 'a termination grace period not above the worker grace',
    by: 'template',
    values: { pools: { cpu: { graceSeconds: 120, terminationGracePeriodSeconds: 120 } } },
    message: /pools\.cpu: terminationGracePeriodSeconds \(120\) must be greater than graceSeconds \(120\)/,
  },
  {
    what: 'GPUs on the CPU image',
    by: 'template',
    values: { pools: { keyframe: { image: 'cpu' } } },
    message: /pools\.keyframe: gpu is 1 but image is "cpu"/,
  },
  {
    what: 'nvidia.com/gpu set in resources',
    by: 'template',
    values: { pools: { keyframe: { resources: { limits: { 'nvidia.com/gpu': 2 } } } } },
    message: /pools\.keyframe\.resources\.limits sets nvidia\.com\/gpu; set pools\.keyframe\.gpu instead/,
  },
  {
    what: 'a queue no pool serves',
    by: 'template',
    values: { pools: { keyframe: { enabled: false } } },
    message: /no enabled pool serves the "keyframe" task queue/,
  },
  {
    what: 'no pool at all',
    by: 'template',
    values: {
      pools: {
        cpu: { enabled: false },
        keyframe: { enabled: false },
        'render-spot': { enabled: false },
        'render-ondemand': { enabled: false },
      },
    },
    message: /no enabled pool/,
  },
  {
    what: 'an S3 pack without its URI',
    by: 'template',
    values: { modelPack: { source: 's3' } },
    message: /model pack source is "s3" but its s3\.uri is ""/,
  },
  {
    what: 'a volume pack without a volume',
    by: 'template',
    values: { modelPack: { source: 'volume' } },
    message: /model pack source is "volume" but modelPack\.volume is empty/,
  },
  {
    what: 'a pool that sees the pack at another path',
    by: 'template',
    values: { pools: { keyframe: { modelPack: { path: '/elsewhere' } } } },
    message:
      /pools\.keyframe\.modelPack\.path is "\/elsewhere" but modelPack\.path is "\/opt\/vldm\/models\/reference"/,
  },
  {
    what: 'minimum replicas that cost more than the ceiling',
    by: 'template',
    values: { scaler: { maxPricePerHour: 5 }, pools: { keyframe: { minReplicas: 2 } } },
    message: /minReplicas alone cost 6\.20 per hour, above scaler\.maxPricePerHour \(5\.00\)/,
  },
  {
    what: 'Temporal TLS without its Secret',
    by: 'template',
    values: { temporal: { tls: { enabled: true } } },
    message: /temporal\.tls\.enabled is true but temporal\.tls\.existingSecret is empty/,
  },
  {
    what: 'the codec without its key Secret',
    by: 'template',
    values: { codec: { enabled: true } },
    message: /codec\.enabled is true but codec\.existingSecret is empty/,
  },
  {
    what: 'a NATS credentials Secret that names no credential',
    by: 'template',
    values: { nats: { auth: { existingSecret: 'nats-creds' } } },
    message: /nats\.auth\.existingSecret is set but names no credential/,
  },
  {
    what: 'a NATS user without a password',
    by: 'template',
    values: { nats: { auth: { existingSecret: 'nats-creds', userKey: 'user' } } },
    message: /nats\.auth: userKey and passwordKey go together/,
  },
  {
    what: 'NATS user, password and token at once',
    by: 'template',
    values: {
      nats: { auth: { existingSecret: 'nats-creds', userKey: 'u', passwordKey: 'p', tokenKey: 't' } },
    },
    message: /nats\.auth: set either userKey and passwordKey, or tokenKey, not both/,
  },
  {
    what: 'NATS credential keys without their Secret',
    by: 'template',
    values: { nats: { auth: { tokenKey: 'token' } } },
    message: /nats\.auth: keys are set but existingSecret is empty/,
  },
  // values.schema.json: the Pod Security checks (each lifted only by its security.* escape hatch)
  {
    what: 'a hostPath model pack',
    by: 'schema',
    values: { modelPack: { source: 'volume', volume: { hostPath: { path: '/mnt/packs' } } } },
    message: /modelPack\/volume\/hostPath/,
  },
  {
    what: "a hostPath in a pool's own model pack",
    by: 'schema',
    values: {
      pools: { keyframe: { modelPack: { source: 'volume', volume: { hostPath: { path: '/p' } } } } },
    },
    message: /pools\/keyframe\/modelPack\/volume\/hostPath/,
  },
  {
    what: 'a privileged worker container',
    by: 'schema',
    values: { workers: { securityContext: { privileged: true } } },
    message: /workers\/securityContext\/privileged.*false/,
  },
  {
    what: 'privilege escalation in the scaler',
    by: 'schema',
    values: { scaler: { securityContext: { allowPrivilegeEscalation: true } } },
    message: /scaler\/securityContext\/allowPrivilegeEscalation.*false/,
  },
  {
    what: 'workers running as root',
    by: 'schema',
    values: { workers: { podSecurityContext: { runAsUser: 0 } } },
    message: /workers\/podSecurityContext\/runAsUser.*minimum/,
  },
  {
    what: 'a scaler allowed to run as root',
    by: 'schema',
    values: { scaler: { securityContext: { runAsNonRoot: false } } },
    message: /scaler\/securityContext\/runAsNonRoot.*true/,
  },
  {
    what: 'the pack image as a bare string (no digest option)',
    by: 'schema',
    values: { modelPack: { s3: { image: { repository: 'amazon/aws-cli', tag: '' } } } },
    message: /modelPack\/s3\/image\/tag/,
  },
];

describe('bad values are refused with a clear message', () => {
  // values.schema.json refuses at lint, template and install. A template `fail` stops template and
  // install; `helm lint` renders in lint mode, where Helm only reports a fail as "[INFO] Fail: ...".
  it.each(BAD_VALUES)('$what ($by)', ({ by, values, message }) => {
    const f = valuesFile(values);
    const tpl = helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, '-f', f]);
    expect(tpl.code, tpl.stdout).not.toBe(0);
    expect(tpl.stderr).toMatch(message);
    const lint = helm(['lint', '--strict', CHART, '-f', f]);
    if (by === 'schema') expect(lint.code).not.toBe(0);
    else expect(lint.stderr).toMatch(/Fail: /);
    expect(lint.stdout + lint.stderr).toMatch(message);
  });
});

describe('infra/docker/probe.sh (the exec form of /healthz and /readyz), against a real health server', () => {
  // Asynchronous: the health server runs in this process, so a blocking spawnSync would starve it.
  const probe = (mode: string, port: string) =>
    new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn('bash', [PROBE, mode], {
        env: { ...process.env, VLDM_METRICS_PORT: port, PROBE_TIMEOUT: '4' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stderr }));
    });
  const state = { live: true, ready: false };
  let server: Awaited<ReturnType<typeof startObservabilityServer>>;
  beforeAll(async () => {
    server = await startObservabilityServer({
      registry: processRegistry,
      port: 0,
      host: '127.0.0.1',
      live: [() => ({ name: 'test', ok: state.live, detail: 'as the test says' })],
      ready: [() => ({ name: 'test', ok: state.ready, detail: 'as the test says' })],
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('live and ready: 0 on HTTP 200, 1 on 503, each reading its own endpoint', async () => {
    const port = String(server.port);
    expect((await probe('live', port)).status).toBe(0);
    const r = await probe('ready', port);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`GET /readyz on port ${port}: 503`);
    state.ready = true;
    state.live = false;
    expect((await probe('ready', port)).status).toBe(0);
    expect((await probe('live', port)).status).toBe(1);
  });

  it('1 when nothing listens, 2 when misconfigured', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const r = await probe('live', String(closedPort));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no answer');
    expect((await probe('live', '')).status).toBe(2);
    expect((await probe('live', 'metrics')).status).toBe(2);
    expect((await probe('sideways', String(server.port))).status).toBe(2);
  });
});

/** A Dockerfile's instructions, continuation lines joined. */
function dockerfile(name: string): Array<{ op: string; args: string }> {
  const text = readFileSync(path.join(DOCKER, name), 'utf8').replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

function runVldm(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [VLDM, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** The long options `vldm <command...> --help` lists. */
function cliOptions(command: string[]): string[] {
  const r = runVldm([...command, '--help']);
  if (r.code !== 0) throw new Error(`vldm ${command.join(' ')} --help exited ${r.code}: ${r.out}`);
  // commander answers an unknown subcommand's --help with its parent's help: that is not the command.
  expect(r.out, `vldm ${command.join(' ')} is a command`).toMatch(
    new RegExp(`^Usage: vldm ${command.join(' ')}\\b`, 'm'),
  );
  return [...r.out.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]!);
}

/** Split chart args into the command words and the --flags with their values. */
function splitArgs(args: string[]): { command: string[]; flags: Array<[string, string]> } {
  const first = args.findIndex((a) => a.startsWith('--'));
  const command = first < 0 ? args : args.slice(0, first);
  const flags: Array<[string, string]> = [];
  for (let i = command.length; i < args.length; i += 2) flags.push([args[i]!, args[i + 1]!]);
  return { command, flags };
}

describe('the images and the chart start real vldm commands', () => {
  const images = ['worker-cpu.Dockerfile', 'worker-gpu.Dockerfile', 'scaler.Dockerfile'];

  it.each(images)(
    '%s: copies files that exist, runs as uid 10001, starts bin/vldm.js with a real command',
    (name) => {
      const ins = dockerfile(name);
      const workdirs = ins.filter((i) => i.op === 'WORKDIR').map((i) => i.args);
      expect(workdirs.at(-1)).toBe('/opt/vldm');
      for (const copy of ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
        const sources = copy.args.split(/\s+/).slice(0, -1);
        for (const src of sources)
          expect(existsSync(path.join(ROOT, src)), `${name}: COPY ${src}`).toBe(true);
      }
      expect(ins.filter((i) => i.op === 'COPY').map((i) => i.args)).toContain(
        'infra/docker/probe.sh infra/docker/probe.sh',
      );
      expect(ins.filter((i) => i.op === 'USER').at(-1)?.args).toBe('10001:10001');
      const from = ins.filter((i) => i.op === 'FROM');
      expect(from.length).toBeGreaterThanOrEqual(3); // multi-stage
      const bases = ins
        .filter((i) => i.op === 'ARG' && /^[A-Z_]+_IMAGE=/.test(i.args))
        .map((i) => i.args.split('=')[1]!);
      expect(bases, `${name}: NODE_IMAGE is a build arg`).toContain('node:24.22.3-bookworm-slim');
      for (const base of bases)
        expect(base, `${name}: base images pinned by tag`).toMatch(/^[a-z0-9./-]+:[0-9][\w.-]+$/);
      const entrypoint = JSON.parse(ins.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
      expect(entrypoint).toEqual(['node', '/opt/vldm/bin/vldm.js']);
      expect(existsSync(path.join(ROOT, 'bin', 'vldm.js'))).toBe(true);
      const cmd = JSON.parse(ins.find((i) => i.op === 'CMD')!.args) as string[];
      const { command, flags } = splitArgs(cmd);
      const options = cliOptions(command);
      for (const [flag] of flags) expect(options, `vldm ${command.join(' ')} has ${flag}`).toContain(flag);
    },
  );

  it('the GPU image installs the CUDA 12 provider of onnxruntime-node; the others do not', () => {
    const gpu = readFileSync(path.join(DOCKER, 'worker-gpu.Dockerfile'), 'utf8');
    // By default; infra/images.sh builds it with ONNXRUNTIME_GPU_INSTALL=skip where NuGet is out of reach.
    expect(gpu).toMatch(/^ARG ONNXRUNTIME_GPU_INSTALL=cuda12$/m);
    // npm 11 refuses --allow-scripts in a project install: the package's postinstall is run by name.
    expect(gpu).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 node \.\/script\/install/);
    expect(gpu).toMatch(/grep -q providers_cuda/);
    expect(gpu).toMatch(/FROM \$\{CUDA_IMAGE\}/);
    expect(readFileSync(path.join(DOCKER, 'worker-cpu.Dockerfile'), 'utf8')).toMatch(
      /apt-get install -y --no-install-recommends ffmpeg/,
    );
    for (const f of ['worker-cpu.Dockerfile', 'scaler.Dockerfile'])
      expect(readFileSync(path.join(DOCKER, f), 'utf8')).not.toContain('cuda12');
    // Every other npm ci keeps onnxruntime-node's install script from fetching CUDA binaries.
    for (const f of images) {
      const runs = dockerfile(f).filter((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
      expect(runs.length, f).toBeGreaterThan(0);
      // npm's cache is a build cache mount (reused between builds, never in a layer).
      for (const r of runs)
        expect(r.args, f).toMatch(
          /^--mount=type=cache,target=\/root\/\.npm\s+ONNXRUNTIME_NODE_INSTALL=skip npm ci /,
        );
    }
    // The project keeps the key in .npmrc too (a project rule: any npm ci in a checkout skips the
    // CUDA download, even one run without the variable); the images do not copy .npmrc.
    expect(readFileSync(path.join(ROOT, '.npmrc'), 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
  });

  it('the entrypoint starts: vldm --help exits 0', () => {
    const r = runVldm(['--help']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/worker/);
  });

  it("every worker Deployment's args are a real `vldm worker` invocation with valid values", () => {
    const objs = render({
      pools: { extra: { queues: ['decode'], graceSeconds: 5, terminationGracePeriodSeconds: 10 } },
    });
    const options = cliOptions(['worker']);
    for (const d of workerDeployments(objs)) {
      const { command, flags } = splitArgs(container(d, 'worker').args as string[]);
      expect(command).toEqual(['worker']);
      for (const [flag, value] of flags) {
        expect(options, `vldm worker has ${flag}`).toContain(flag);
        if (flag === '--queues') expect(parseQueues(value).length).toBe(value.split(',').length);
        if (flag === '--grace-seconds') expect(Number(value)).toBeGreaterThanOrEqual(0);
      }
      for (const q of (flags.find(([f]) => f === '--queues')?.[1] ?? '').split(','))
        expect(QUEUE_ROLES).toContain(q);
    }
  });

  it("the scaler Deployment's args are a real `vldm scaler run` invocation", () => {
    const scaler = find(render(), 'Deployment', `${RELEASE}-vldm-scaler`);
    const { command, flags } = splitArgs(container(scaler, 'scaler').args as string[]);
    expect(command).toEqual(['scaler', 'run']);
    const options = cliOptions(command);
    for (const [flag] of flags) expect(options, `vldm scaler run has ${flag}`).toContain(flag);
  });

  it('the probe script the chart names is valid bash', () => {
    expect(spawnSync('bash', ['-n', PROBE]).status).toBe(0);
  });
});
