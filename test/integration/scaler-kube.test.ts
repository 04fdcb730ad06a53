/**
 * The scaler end to end against a real kube-apiserver (test/support/kube.ts) and the real Temporal test
 * server: the chart's scaler RBAC, worker Deployments and pools.json are rendered by `helm template`
 * and created; the scaler runs as the chart's ServiceAccount (a real signed token, and the same
 * identity impersonated by the admin for the refusals), elects itself leader through the Lease, scales
 * the pool of a queue with backlog up and back to zero when the work is gone, records Events, and
 * leaves a second replica idle. The identity may not delete pods, read Secrets or scale Deployments
 * that are not pools. (No controller runs here: Deployments get no pods, so replicas are what is checked.)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJob } from '../../src/client/jobs';
import { findTool } from '../../src/dev/tools';
import { repoRoot } from '../../src/host/paths';
import { NullEventBus } from '../../src/events';
import { createStore } from '../../src/storage';
import { startWorkers, type RunningWorkers } from '../../src/worker/workers';
import { KubeScaleTarget, apiStatus } from '../../src/scaling/kube';
import { LeaderElector } from '../../src/scaling/leader';
import { ScalerLoop } from '../../src/scaling/loop';
import { parsePoolsConfig, type PoolsConfig } from '../../src/scaling/pools';
import { observeTemporal } from '../../src/scaling/temporal';
import { testKube, testNamespace } from '../support/kube';
import type { KubeCluster } from '../support/kube-control-plane';
import { kubeRequest, serviceAccountUser, writeServiceAccountKubeconfig } from '../support/kube-rest';
import { CONTRACT_PACK } from '../support/pipeline';
import { testServers } from '../support/servers';
import { registerTestNamespace } from '../support/temporal-namespace';

const RELEASE = 'vldm';
const TEMPORAL_NAMESPACE = `scaler-kube-${process.pid}-${Date.now().toString(36)}`;

/** The chart's objects for the scaler, as `helm install` would create them (the rest is not needed here). */
function renderChart(namespace: string): k8s.KubernetesObject[] {
  const helm = findTool('helm');
  if (!helm) throw new Error('helm is not installed: run infra/setup.sh');
  const out = execFileSync(
    helm,
    [
      'template',
      RELEASE,
      path.join(repoRoot(), 'charts', 'vldm'),
      '--namespace',
      namespace,
      // Every pool may go to zero, and a pool goes down as soon as its work is gone (no 60 s wait).
      '--set',
      'pools.cpu.minReplicas=0',
      '--set',
      'scaler.scaleDownDelaySeconds=1',
      '--show-only',
      'templates/scaler-rbac.yaml',
      '--show-only',
      'templates/scaler-configmap.yaml',
      '--show-only',
      'templates/workers.yaml',
    ],
    { encoding: 'utf8' },
  );
  return k8s.loadAllYaml(out) as k8s.KubernetesObject[];
}

async function until<T>(what: string, fn: () => Promise<T>, ok: (x: T) => boolean, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const x = await fn();
    if (ok(x)) return x;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(x)} after ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('scaler on Kubernetes', () => {
  let cluster: KubeCluster;
  let namespace: string;
  let admin: { apps: k8s.AppsV1Api; core: k8s.CoreV1Api };
  let config: PoolsConfig;
  let sa: string;
  let leaseName: string;
  let scalerTarget: KubeScaleTarget;
  let connection: Connection;
  let client: Client;
  let temporalAddress: string;
  let workers: RunningWorkers | undefined;

  beforeAll(async () => {
    cluster = await testKube();
    namespace = await testNamespace(cluster, 'scaler');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    admin = { apps: kc.makeApiClient(k8s.AppsV1Api), core: kc.makeApiClient(k8s.CoreV1Api) };
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    for (const obj of renderChart(namespace)) {
      await objects.create({ ...obj, metadata: { ...obj.metadata, namespace } });
    }
    const configMap = await admin.core.readNamespacedConfigMap({ name: `${RELEASE}-scaler`, namespace });
    // The chart's pools.json goes through the same validation as `vldm scaler run --pools`.
    config = parsePoolsConfig(JSON.parse(configMap.data?.['pools.json'] ?? 'null'), "the chart's pools.json");
    sa = `${RELEASE}-scaler`;
    leaseName = `${RELEASE}-scaler`;
    const kubeconfig = await writeServiceAccountKubeconfig(
      cluster,
      namespace,
      sa,
      path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vldm-scaler-')), 'kubeconfig'),
    );
    scalerTarget = new KubeScaleTarget({ kubeconfig, namespace, identity: 'scaler-0' });

    const servers = await testServers({ kinds: ['temporal'] });
    temporalAddress = servers.temporal?.address as string;
    connection = await Connection.connect({ address: temporalAddress });
    client = await registerTestNamespace(connection, TEMPORAL_NAMESPACE);
  });

  afterAll(async () => {
    await workers?.shutdown();
    await connection?.close();
  });

  const replicas = async (deployment: string) =>
    (await admin.apps.readNamespacedDeploymentScale({ name: deployment, namespace })).spec?.replicas ?? 0;

  it('renders a pools file that validates, naming Deployments that exist without a chart-set replica count', async () => {
    expect(config.pools.map((p) => p.deployment).sort()).toEqual([
      'vldm-cpu',
      'vldm-keyframe',
      'vldm-render-ondemand',
      'vldm-render-spot',
    ]);
    // The chart renders no replicas (the scaler owns the count, docs/deploy.md "Replica counts and
    // GitOps"): a new Deployment starts at Kubernetes' default of one, until the scaler's first round.
    for (const p of config.pools) expect(await replicas(p.deployment)).toBe(1);
  });

  it('scales the pool of a queue with backlog up, as the ServiceAccount, leading through the Lease, and a second replica stays idle', async () => {
    const elector = new LeaderElector(scalerTarget, { name: leaseName, identity: 'scaler-0' });
    const log: string[] = [];
    const loop = new ScalerLoop({
      config,
      target: scalerTarget,
      elector,
      observe: (roles) => observeTemporal(client, TEMPORAL_NAMESPACE, roles),
      log: (line) => log.push(line),
    });
    expect(await elector.tick()).toBe(true);

    // The second replica: same ServiceAccount, its own token and name.
    const otherKubeconfig = await writeServiceAccountKubeconfig(
      cluster,
      namespace,
      sa,
      path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vldm-scaler-')), 'kubeconfig'),
    );
    const other = new KubeScaleTarget({ kubeconfig: otherKubeconfig, namespace, identity: 'scaler-1' });
    const secondElector = new LeaderElector(other, { name: leaseName, identity: 'scaler-1' });
    const second = new ScalerLoop({
      config,
      target: other,
      elector: secondElector,
      observe: (roles) => observeTemporal(client, TEMPORAL_NAMESPACE, roles),
      log: () => undefined,
    });
    expect(await secondElector.tick()).toBe(false);

    // Jobs with nobody polling the orchestration queue: three workflow tasks wait there.
    const deadline = new Date(Date.now() + 3_600_000).toISOString();
    for (const id of ['kube-a', 'kube-b', 'kube-c']) {
      await startJob(client, {
        jobId: id,
        name: id,
        seconds: 2,
        fps: 24,
        scene: 'day',
        traffic: 'clear',
        seed: 1,
        pack: CONTRACT_PACK,
        deadline,
      });
    }
    const cpu = config.pools.find((p) => p.queues.includes('orchestration'));
    if (!cpu) throw new Error('the chart has no pool for the orchestration queue');
    // Each round renews the Lease first, as `run` does on its own timer.
    const round = async () => {
      await elector.tick();
      const r = await loop.step();
      if (r.skipped) throw new Error(`${r.skipped}\n${log.join('\n')}`);
      return replicas(cpu.deployment);
    };
    await until('the cpu pool scaled up', round, (n) => n >= 1);
    // The GPU pools had no work: they stay at zero.
    for (const p of config.pools.filter((x) => x !== cpu)) expect(await replicas(p.deployment)).toBe(0);

    const step = await second.step();
    expect(step.leader).toBe(false);
    expect(step.applied).toEqual([]);

    const events = await admin.core.listNamespacedEvent({ namespace });
    const scaledUp = events.items.find(
      (e) => e.involvedObject.name === cpu.deployment && e.reason === 'ScaledUp',
    );
    expect(scaledUp?.message).toMatch(/orchestration: 3 queued/);
    expect(scaledUp?.reportingInstance).toBe('scaler-0');

    const lease = await scalerTarget.getLease(leaseName);
    expect(lease?.holder).toBe('scaler-0');

    // The work goes away: the jobs end and a worker (outside the cluster) drains their stale tasks.
    for (const id of ['kube-a', 'kube-b', 'kube-c'])
      await client.workflow.getHandle(id).terminate('scaler test done');
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'vldm-scaler-kube-'));
    workers = await startWorkers({
      temporalAddress,
      namespace: TEMPORAL_NAMESPACE,
      queues: ['orchestration'],
      store: createStore({ kind: 'local', root: path.join(scratch, 'artifacts') }),
      events: new NullEventBus(),
      scratchDir: scratch,
    });
    await until('the cpu pool back at zero', round, (n) => n === 0, 90_000);
    const down = (await admin.core.listNamespacedEvent({ namespace })).items.find(
      (e) => e.involvedObject.name === cpu.deployment && e.reason === 'ScaledDown',
    );
    expect(down?.message).toMatch(/→ 0/);

    // The leader gives the Lease up on shutdown; the other replica takes it at once.
    await elector.release();
    expect(await secondElector.tick()).toBe(true);
  });

  it('the ServiceAccount may not delete pods, read Secrets, or scale what is not a pool', async () => {
    await admin.core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'codec-key' }, stringData: { key: 'secret' } },
    });
    await admin.apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'not-a-pool' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'x' } },
          template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'x', image: 'x' }] } },
        },
      },
    });
    // With its own token…
    const statusOf = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (err: unknown) => apiStatus(err) ?? -1,
      );
    expect(await statusOf(scalerTarget.core.deleteNamespacedPod({ name: 'anything', namespace }))).toBe(403);
    expect(await statusOf(scalerTarget.core.readNamespacedSecret({ name: 'codec-key', namespace }))).toBe(
      403,
    );
    expect(await statusOf(scalerTarget.core.listNamespacedSecret({ namespace }))).toBe(403);
    expect(await statusOf(scalerTarget.setScale('not-a-pool', 5))).toBe(403);
    expect(await statusOf(scalerTarget.setScale('vldm-cpu', 0))).toBe(200);
    // …and impersonated by the admin (what `kubectl --as` checks).
    const as = {
      impersonateUser: serviceAccountUser(namespace, sa),
      impersonateGroups: [
        'system:serviceaccounts',
        `system:serviceaccounts:${namespace}`,
        'system:authenticated',
      ],
    };
    const del = await kubeRequest(cluster, {
      method: 'DELETE',
      path: `/api/v1/namespaces/${namespace}/pods/anything`,
      ...as,
    });
    expect(del.status).toBe(403);
    const secret = await kubeRequest(cluster, {
      method: 'GET',
      path: `/api/v1/namespaces/${namespace}/secrets/codec-key`,
      ...as,
    });
    expect(secret.status).toBe(403);
    const scale = await kubeRequest(cluster, {
      method: 'GET',
      path: `/apis/apps/v1/namespaces/${namespace}/deployments/vldm-render-spot/scale`,
      ...as,
    });
    expect(scale.status).toBe(200);
  });
});
