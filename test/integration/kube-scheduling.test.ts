/**
 * The chart and the scaler on a real control plane: kube-apiserver, kube-controller-manager and
 * kube-scheduler built from the pinned k8s.io/kubernetes (infra/kube-apiserver), with kwok's fake
 * nodes (test/support/kube-nodes.ts): CPU nodes, spot GPU nodes and on-demand GPU nodes, each with
 * `nvidia.com/gpu` capacity and taint, and a capacity-type label. Deployments get ReplicaSets and pods
 * from the real controllers, the real scheduler places them, kwok marks them Running (no kubelet runs
 * here: no container starts, so readiness probes are not exercised). Real Temporal gives the scaler
 * real backlog: a job whose orchestration, media and keyframe workers run in this process, while the
 * interpolation queue waits for the render pools' pods, which never poll.
 *
 * In order: `helm install` puts every pool's pods only on nodes of their kind; the scaler grows the
 * spot render pool and its pods run on spot nodes; those that find no spot node stay Pending and,
 * after the spot timeout, the scaler grows the on-demand pool instead and says why; a spot node that
 * disappears (a preemption) has its pod replaced, the scaler counts one ready pod fewer and the
 * replacement lands on the spot node that comes next; a drain of the CPU nodes through the eviction
 * API is held to one pod at a time by the pool's PodDisruptionBudget.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Connection, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJob } from '../../src/cli/edge';
import { startJob } from '../../src/client/jobs';
import { findTool } from '../../src/dev/tools';
import { repoRoot } from '../../src/host/paths';
import { NullEventBus } from '../../src/events';
import { createStore } from '../../src/storage';
import { startWorkers, type RunningWorkers } from '../../src/worker/workers';
import { KubeScaleTarget, apiStatus, poolObservation } from '../../src/scaling/kube';
import { ScalerLoop } from '../../src/scaling/loop';
import { parsePoolsConfig, type PoolsConfig } from '../../src/scaling/pools';
import { observeTemporal } from '../../src/scaling/temporal';
import { testKubeFull, testNamespace } from '../support/kube';
import type { KubeCluster } from '../support/kube-control-plane';
import {
  CAPACITY_TYPE_LABEL,
  NODE_CLASS_LABEL,
  createFakeNodes,
  type NodeClass,
} from '../support/kube-nodes';
import { writeServiceAccountKubeconfig } from '../support/kube-rest';
import { CONTRACT_PACK } from '../support/pipeline';
import { testServers } from '../support/servers';
import { registerTestNamespace } from '../support/temporal-namespace';

const RELEASE = 'vldm';
const RUN = `${process.pid}-${Date.now().toString(36)}`;
const TEMPORAL_NAMESPACE = `kube-scheduling-${RUN}`;
/** Seconds a spot pod may stay unschedulable before the scaler turns to on-demand (short for the test). */
const SPOT_TIMEOUT_SECONDS = 5;

/** Node names are cluster-wide and the cluster outlives a test file: each run gets its own nodes. */
const node = (n: string) => `${n}-${RUN}`;

/** What the test installs: the chart's pools, with capacity types picked by nodeSelector. */
const VALUES = `
scaler:
  spotPendingTimeoutSeconds: ${SPOT_TIMEOUT_SECONDS}
  spotRetrySeconds: 600
  scaleDownDelaySeconds: 600
  # The render pools' work made long enough that the job's deadline needs more pods than the spot
  # nodes hold, yet within reach with on-demand ones (tried with decide() on the job's plan).
  secondsPerActivity: { orchestration: 0.05, keyframe: 3.4, interpolation: 60, decode: 60, upscale: 60, media: 7 }
pools:
  cpu:
    minReplicas: 1
    maxReplicas: 2
  keyframe:
    minReplicas: 1
    maxReplicas: 1
    nodeSelector: { ${JSON.stringify(CAPACITY_TYPE_LABEL)}: on-demand }
  render-spot:
    minReplicas: 1
    maxReplicas: 4
    coldStartSeconds: 1
    nodeSelector: { ${JSON.stringify(CAPACITY_TYPE_LABEL)}: spot }
  render-ondemand:
    minReplicas: 1
    maxReplicas: 3
    coldStartSeconds: 1
    nodeSelector: { ${JSON.stringify(CAPACITY_TYPE_LABEL)}: on-demand }
`;

/** Which node class each pool's pods may run on. */
const POOL_NODES: Record<string, NodeClass> = {
  cpu: 'cpu',
  keyframe: 'gpu-on-demand',
  'render-spot': 'gpu-spot',
  'render-ondemand': 'gpu-on-demand',
};

async function until<T>(what: string, fn: () => Promise<T>, ok: (x: T) => boolean, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const x = await fn();
    if (ok(x)) return x;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(x)} after ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('the chart and the scaler on a real scheduler and controller manager', () => {
  let cluster: KubeCluster;
  let namespace: string;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let policy: k8s.PolicyV1Api;
  let config: PoolsConfig;
  let target: KubeScaleTarget;
  let connection: Connection;
  let client: Client;
  let workers: RunningWorkers | undefined;
  let loop: ScalerLoop;
  const log: string[] = [];

  /** The pool's pods (not being deleted) with their node and its class; Pending ones have no node. */
  const podsOf = async (pool: string) => {
    const pods = await core.listNamespacedPod({
      namespace,
      labelSelector: `app.kubernetes.io/instance=${RELEASE},vldm.dev/pool=${pool}`,
    });
    const nodes = new Map(
      (await core.listNode()).items.map((n) => [n.metadata?.name, n.metadata?.labels?.[NODE_CLASS_LABEL]]),
    );
    return pods.items
      .filter((p) => !p.metadata?.deletionTimestamp)
      .map((p) => ({
        name: p.metadata?.name ?? '',
        node: p.spec?.nodeName,
        nodeClass: p.spec?.nodeName ? nodes.get(p.spec.nodeName) : undefined,
        phase: p.status?.phase,
        unschedulable: p.status?.conditions?.some(
          (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable',
        ),
      }));
  };
  const replicas = async (pool: string) =>
    (await apps.readNamespacedDeploymentScale({ name: `${RELEASE}-${pool}`, namespace })).spec?.replicas ?? 0;
  /** What the scaler sees of a pool (the same calls its rounds make). */
  const observed = async (pool: string) => {
    const scale = await target.getScale(`${RELEASE}-${pool}`);
    return poolObservation(scale, scale.selector ? await target.listPods(scale.selector) : [], new Date());
  };
  const round = async () => {
    const r = await loop.step();
    if (r.skipped) throw new Error(`${r.skipped}\n${log.join('\n')}`);
    return r;
  };

  beforeAll(async () => {
    cluster = await testKubeFull();
    namespace = await testNamespace(cluster, 'sched');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    policy = kc.makeApiClient(k8s.PolicyV1Api);
    await createFakeNodes(core, [
      { name: node('cpu-1'), kind: 'cpu' },
      { name: node('cpu-2'), kind: 'cpu' },
      { name: node('spot-1'), kind: 'gpu-spot', gpus: 1 },
      { name: node('spot-2'), kind: 'gpu-spot', gpus: 1 },
      { name: node('od-1'), kind: 'gpu-on-demand', gpus: 2 },
      { name: node('od-2'), kind: 'gpu-on-demand', gpus: 2 },
    ]);

    const helm = findTool('helm');
    if (!helm) throw new Error('helm is not installed: run infra/setup.sh');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vldm-sched-'));
    fs.writeFileSync(path.join(dir, 'values.yaml'), VALUES);
    execFileSync(
      helm,
      [
        'install',
        RELEASE,
        path.join(repoRoot(), 'charts', 'vldm'),
        '--namespace',
        namespace,
        '--kubeconfig',
        cluster.kubeconfigPath,
        '--values',
        path.join(dir, 'values.yaml'),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: dir } },
    );
    const pools = await core.readNamespacedConfigMap({ name: `${RELEASE}-scaler`, namespace });
    config = parsePoolsConfig(JSON.parse(pools.data?.['pools.json'] ?? 'null'), "the chart's pools.json");
    // The scaler acts as the chart's ServiceAccount, with a token the API server signed.
    const kubeconfig = await writeServiceAccountKubeconfig(
      cluster,
      namespace,
      `${RELEASE}-scaler`,
      path.join(dir, 'scaler-kubeconfig'),
    );
    target = new KubeScaleTarget({ kubeconfig, namespace, identity: 'scaler-test' });

    const servers = await testServers({ kinds: ['temporal'] });
    const address = servers.temporal?.address as string;
    connection = await Connection.connect({ address });
    client = await registerTestNamespace(connection, TEMPORAL_NAMESPACE);
    loop = new ScalerLoop({
      config,
      target,
      observe: (roles) => observeTemporal(client, TEMPORAL_NAMESPACE, roles),
      log: (line) => log.push(line),
    });
    // Workflows, ffmpeg and keyframes run here; interpolation waits for render pods that never poll.
    workers = await startWorkers({
      temporalAddress: address,
      namespace: TEMPORAL_NAMESPACE,
      queues: ['orchestration', 'media', 'keyframe'],
      store: createStore({ kind: 'local', root: path.join(dir, 'artifacts') }),
      events: new NullEventBus(),
      warmPack: CONTRACT_PACK,
      scratchDir: path.join(dir, 'scratch'),
      observability: false,
      deployment: false,
    });
  }, 300_000);

  afterAll(async () => {
    await workers?.shutdown();
    await connection?.close();
    // Nodes are cluster-wide: remove this run's, so a later file's scheduler never sees them.
    for (const n of ['cpu-1', 'cpu-2', 'cpu-3', 'spot-1', 'spot-2', 'spot-3', 'od-1', 'od-2'])
      await core?.deleteNode({ name: node(n) }).catch(() => undefined);
  });

  it('helm install: every pool gets its minReplicas pods, Running, each only on nodes of its kind', async () => {
    for (const [pool, kind] of Object.entries(POOL_NODES)) {
      const pods = await until(
        `${pool}'s pods running`,
        () => podsOf(pool),
        (ps) => ps.length === 1 && ps.every((p) => p.phase === 'Running'),
      );
      for (const p of pods) expect(p.nodeClass, `${p.name} on ${p.node}`).toBe(kind);
    }
  });

  it('the scaler grows the spot pool for a job with a deadline; its pods run on spot nodes, the rest stay Pending, then it turns to on-demand and says why', async () => {
    const deadline = new Date(Date.now() + 1500_000).toISOString();
    const { spec } = await compileJob(
      { seconds: '5', scene: 'day', traffic: 'clear', seed: '3', name: `sched-${RUN}`, deadline },
      CONTRACT_PACK,
    );
    await startJob(client, spec);
    // Interpolation work queues up (nobody polls it) and the scaler wants more spot pods.
    await until(
      'the spot pool grown past the spot nodes',
      async () => (await round(), replicas('render-spot')),
      (n) => n > 2,
      120_000,
    );
    const spot = await until(
      'spot pods placed',
      () => podsOf('render-spot'),
      (ps) => ps.filter((p) => p.phase === 'Running').length === 2 && ps.some((p) => p.unschedulable),
    );
    // Two spot nodes with one GPU each: two pods run there, the others find no node.
    for (const p of spot.filter((x) => x.node)) expect(p.nodeClass).toBe('gpu-spot');
    expect(spot.filter((p) => !p.node).every((p) => p.unschedulable)).toBe(true);
    const ondemandBefore = await replicas('render-ondemand');

    // Past the timeout, the on-demand pool serving the same queues grows instead.
    await new Promise((r) => setTimeout(r, SPOT_TIMEOUT_SECONDS * 1000));
    await until(
      'the on-demand pool grown',
      async () => (await round(), replicas('render-ondemand')),
      (n) => n > ondemandBefore,
      60_000,
    );
    const events = (await core.listNamespacedEvent({ namespace })).items;
    const up = events.find(
      (e) => e.involvedObject.name === `${RELEASE}-render-ondemand` && e.reason === 'ScaledUp',
    );
    expect(up?.message).toMatch(
      /render-ondemand \d+ → \d+: .*adds [\d.]+ for \w+ \(spot pool render-spot without capacity\)/,
    );
    expect(log.join('\n')).toMatch(/spot capacity unavailable \(pods unschedulable over 5 s\)/);
    const od = await until(
      'on-demand pods running',
      () => podsOf('render-ondemand'),
      (ps) => ps.filter((p) => p.phase === 'Running').length > 1,
    );
    for (const p of od.filter((x) => x.node)) expect(p.nodeClass).toBe('gpu-on-demand');
  }, 240_000);

  it('a preempted spot node: its pod is replaced, the scaler counts one ready pod fewer, and the replacement runs on the next spot node', async () => {
    const before = await observed('render-spot');
    const running = (await podsOf('render-spot')).filter((p) => p.phase === 'Running');
    const victim = running[0];
    // The cloud takes the node away: its Node object goes, its kubelet with it.
    await core.deleteNode({ name: victim.node as string });
    // The pod GC deletes pods bound to a node that no longer exists (after 40 s); the ReplicaSet replaces it.
    await until(
      'the preempted pod gone',
      async () => (await podsOf('render-spot')).map((p) => p.name),
      (names) => !names.includes(victim.name),
      120_000,
    );
    const after = await until(
      'the scaler sees one ready pod fewer',
      () => observed('render-spot'),
      (o) => o.ready === before.ready - 1,
    );
    expect(after.replicas).toBe(before.replicas);
    expect(after.unschedulable).toBe(before.unschedulable + 1);
    // Spot capacity comes back: a Pending pod is scheduled there.
    await createFakeNodes(core, [{ name: node('spot-3'), kind: 'gpu-spot', gpus: 1 }]);
    const pods = await until(
      'a pod on the new spot node',
      () => podsOf('render-spot'),
      (ps) => ps.some((p) => p.node === node('spot-3') && p.phase === 'Running'),
    );
    expect(pods.filter((p) => p.phase === 'Running')).toHaveLength(2);
    expect((await observed('render-spot')).ready).toBe(before.ready);
  }, 240_000);

  it('a drain through the eviction API takes one pod of a pool at a time (its PodDisruptionBudget)', async () => {
    await apps.patchNamespacedDeploymentScale(
      { name: `${RELEASE}-cpu`, namespace, body: { spec: { replicas: 2 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const pods = await until(
      'two cpu pods running',
      () => podsOf('cpu'),
      (ps) => ps.length === 2 && ps.every((p) => p.phase === 'Running'),
    );
    await until(
      'the budget allows one disruption',
      async () =>
        (await policy.readNamespacedPodDisruptionBudget({ name: `${RELEASE}-cpu`, namespace })).status
          ?.disruptionsAllowed,
      (n) => n === 1,
    );
    // A node-pool upgrade: both CPU nodes cordoned, their pods evicted.
    for (const n of ['cpu-1', 'cpu-2'])
      await core.patchNode(
        { name: node(n), body: { spec: { unschedulable: true } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    const evict = (name: string) =>
      core
        .createNamespacedPodEviction({
          name,
          namespace,
          body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
        })
        .then(
          () => 201,
          (err: unknown) => apiStatus(err) ?? -1,
        );
    expect(await evict(pods[0].name)).toBe(201);
    // The first pod's replacement has no node to go to: the budget refuses the second eviction.
    expect(await evict(pods[1].name)).toBe(429);
    const replacement = await until(
      'the replacement Pending',
      () => podsOf('cpu'),
      (ps) => ps.some((p) => p.unschedulable),
    );
    expect(replacement.map((p) => p.name)).toContain(pods[1].name);
    // The upgraded pool's new node arrives: the replacement runs there, and the drain may go on.
    await createFakeNodes(core, [{ name: node('cpu-3'), kind: 'cpu' }]);
    await until(
      'the second eviction allowed',
      () => evict(pods[1].name),
      (s) => s === 201,
    );
    const done = await until(
      'both cpu pods on the new node',
      () => podsOf('cpu'),
      (ps) => ps.length === 2 && ps.every((p) => p.phase === 'Running' && p.node === node('cpu-3')),
    );
    expect(done.map((p) => p.name)).not.toContain(pods[0].name);
  }, 240_000);
});
