/**
 * The real kube-apiserver that test/support/kube-control-plane.ts starts (built from k8s.io/kubernetes by infra/setup.sh),
 * driven through @kubernetes/client-node: it is the pinned version, stores Deployments and serves their
 * scale subresource, and enforces RBAC for a ServiceAccount limited to `deployments/scale`, both when
 * the admin impersonates it and when it authenticates with its own signed token.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KubeCluster } from '../support/kube-control-plane';
import { KUBE_ADMIN_USER, kubeconfigText } from '../support/kube-pki';
import { kubeRequest, serviceAccountUser, writeServiceAccountKubeconfig } from '../support/kube-rest';
import { repoRoot } from '../../src/host/paths';
import { testKube, testNamespace } from '../support/kube';

const SA = 'scaler';

function pinnedKubernetesVersion(): string {
  const goMod = fs.readFileSync(path.join(repoRoot(), 'infra', 'kube-apiserver', 'go.mod'), 'utf8');
  const match = /^(?:require)?\s*k8s\.io\/kubernetes (v1\.\d+\.\d+)$/m.exec(goMod);
  if (!match) throw new Error('infra/kube-apiserver/go.mod does not require k8s.io/kubernetes v1.X.Y');
  return match[1]!;
}

function deployment(name: string, replicas: number): k8s.V1Deployment {
  const labels = { 'app.kubernetes.io/name': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: { 'vldm.dev/pool': 'gpu-spot' },
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
          containers: [
            {
              name: 'worker',
              image: 'vldm/worker-gpu:test',
              resources: { limits: { 'nvidia.com/gpu': '1' } },
            },
          ],
        },
      },
    },
  };
}

/** The HTTP status of a call that is expected to fail (0 when it succeeded). */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 0;
  } catch (err) {
    if (err instanceof k8s.ApiException) return err.code;
    throw err;
  }
}

function clientsFor(kubeconfig: string) {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(kubeconfig);
  return {
    apps: kc.makeApiClient(k8s.AppsV1Api),
    core: kc.makeApiClient(k8s.CoreV1Api),
    authn: kc.makeApiClient(k8s.AuthenticationV1Api),
  };
}

/** Reads and changes the scale of `name`, then tries what the Role does not allow; returns the statuses. */
async function exercise(
  clients: ReturnType<typeof clientsFor>,
  namespace: string,
  name: string,
  otherNs: string,
) {
  const { apps, core } = clients;
  const scale = await apps.readNamespacedDeploymentScale({ name, namespace });
  const patched = await apps.patchNamespacedDeploymentScale({
    name,
    namespace,
    body: [{ op: 'replace', path: '/spec/replicas', value: (scale.spec?.replicas ?? 0) + 1 }],
  });
  return {
    before: scale.spec?.replicas ?? 0,
    after: patched.spec?.replicas,
    deletePods: await statusOf(core.deleteCollectionNamespacedPod({ namespace })),
    deletePod: await statusOf(core.deleteNamespacedPod({ name: 'any', namespace })),
    listPods: await statusOf(core.listNamespacedPod({ namespace })),
    readSecret: await statusOf(core.readNamespacedSecret({ name: 'codec-key', namespace })),
    listSecrets: await statusOf(core.listNamespacedSecret({ namespace })),
    readDeployment: await statusOf(apps.readNamespacedDeployment({ name, namespace })),
    deleteDeployment: await statusOf(apps.deleteNamespacedDeployment({ name, namespace })),
    scaleElsewhere: await statusOf(apps.readNamespacedDeploymentScale({ name, namespace: otherNs })),
  };
}

const REFUSED = {
  deletePods: 403,
  deletePod: 403,
  listPods: 403,
  readSecret: 403,
  listSecrets: 403,
  readDeployment: 403,
  deleteDeployment: 403,
  scaleElsewhere: 403,
};

describe('kube-apiserver (real, from k8s.io/kubernetes) for the tests', () => {
  let cluster: KubeCluster;
  let admin: ReturnType<typeof clientsFor>;

  beforeAll(async () => {
    cluster = await testKube();
    admin = clientsFor(fs.readFileSync(cluster.kubeconfigPath, 'utf8'));
  });

  it('is the pinned Kubernetes version, over TLS, and refuses unknown tokens', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const version = await kc.makeApiClient(k8s.VersionApi).getCode();
    expect(version.gitVersion).toBe(pinnedKubernetesVersion());

    const review = await admin.authn.createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(KUBE_ADMIN_USER);
    expect(review.status?.userInfo?.groups).toContain('system:masters');

    const stranger = await kubeRequest(cluster, {
      method: 'GET',
      path: '/api/v1/namespaces',
      token: 'not-a-token',
    });
    expect(stranger.status).toBe(401);
  });

  it('stores a Deployment and serves its scale subresource, but no controller makes pods', async () => {
    const namespace = await testNamespace(cluster, 'kube-scale');
    await admin.apps.createNamespacedDeployment({ namespace, body: deployment('worker-gpu', 0) });

    const scale = await admin.apps.readNamespacedDeploymentScale({ name: 'worker-gpu', namespace });
    expect(scale.kind).toBe('Scale');
    // ScaleSpec.replicas is `omitempty`: a Deployment scaled to zero has no spec.replicas in its Scale.
    expect(scale.spec?.replicas).toBeUndefined();
    expect(scale.status?.selector).toBe('app.kubernetes.io/name=worker-gpu');

    // client-node 1.x sends a PATCH as a JSON patch unless told otherwise.
    const up = await admin.apps.patchNamespacedDeploymentScale({
      name: 'worker-gpu',
      namespace,
      body: [{ op: 'replace', path: '/spec/replicas', value: 3 }],
    });
    expect(up.spec?.replicas).toBe(3);
    const merged = await admin.apps.patchNamespacedDeploymentScale(
      { name: 'worker-gpu', namespace, body: { spec: { replicas: 2 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    expect(merged.spec?.replicas).toBe(2);

    const stored = await admin.apps.readNamespacedDeployment({ name: 'worker-gpu', namespace });
    expect(stored.spec?.replicas).toBe(2);
    expect(stored.spec?.template.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBe('1');
    // No controller-manager: the desired count is stored, nothing acts on it.
    expect(stored.status?.replicas ?? 0).toBe(0);
    expect((await admin.core.listNamespacedPod({ namespace })).items).toEqual([]);

    // Validation is the real one.
    const negative = await statusOf(
      admin.apps.patchNamespacedDeploymentScale({
        name: 'worker-gpu',
        namespace,
        body: [{ op: 'replace', path: '/spec/replicas', value: -1 }],
      }),
    );
    expect(negative).toBe(422);
  });

  it('holds a ServiceAccount allowed only deployments/scale get/patch to exactly that', async () => {
    const namespace = await testNamespace(cluster, 'kube-rbac');
    const otherNs = await testNamespace(cluster, 'kube-rbac-other');
    for (const ns of [namespace, otherNs]) {
      await admin.apps.createNamespacedDeployment({ namespace: ns, body: deployment('worker-gpu', 0) });
    }
    await admin.core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'codec-key' }, stringData: { key: 'secret' } },
    });
    await admin.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: SA } } });
    const rbac = new k8s.KubeConfig();
    rbac.loadFromFile(cluster.kubeconfigPath);
    const rbacApi = rbac.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbacApi.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'scale-deployments' },
        rules: [{ apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'patch'] }],
      },
    });
    await rbacApi.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'scaler-scales' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'scale-deployments' },
        subjects: [{ kind: 'ServiceAccount', name: SA, namespace }],
      },
    });

    // The admin (system:masters) impersonating the ServiceAccount, as the chart tests will.
    const impersonated = clientsFor(
      kubeconfigText({
        server: cluster.server,
        caPem: cluster.caPem,
        token: cluster.adminToken,
        user: KUBE_ADMIN_USER,
        impersonate: serviceAccountUser(namespace, SA),
      }),
    );
    const who = await impersonated.authn.createSelfSubjectReview({ body: {} });
    expect(who.status?.userInfo?.username).toBe(serviceAccountUser(namespace, SA));
    expect(await exercise(impersonated, namespace, 'worker-gpu', otherNs)).toEqual({
      before: 0,
      after: 1,
      ...REFUSED,
    });

    // The same ServiceAccount with its own signed token (TokenRequest), as a pod would present it.
    const saKubeconfig = await writeServiceAccountKubeconfig(
      cluster,
      namespace,
      SA,
      path.join(cluster.dir, `${namespace}-${SA}.kubeconfig`),
    );
    const own = clientsFor(fs.readFileSync(saKubeconfig, 'utf8'));
    const self = await own.authn.createSelfSubjectReview({ body: {} });
    expect(self.status?.userInfo?.username).toBe(serviceAccountUser(namespace, SA));
    expect(await exercise(own, namespace, 'worker-gpu', otherNs)).toEqual({
      before: 1,
      after: 2,
      ...REFUSED,
    });

    // The refused calls changed nothing.
    const secret = await admin.core.readNamespacedSecret({ name: 'codec-key', namespace });
    expect(Buffer.from(secret.data?.key ?? '', 'base64').toString()).toBe('secret');
    const stored = await admin.apps.readNamespacedDeployment({ name: 'worker-gpu', namespace });
    expect(stored.spec?.replicas).toBe(2);
  });

  it('accepts Pods directly; they stay Pending because nothing schedules them', async () => {
    const namespace = await testNamespace(cluster, 'kube-pods');
    const template = deployment('worker-gpu', 1).spec!.template;
    await admin.core.createNamespacedPod({
      namespace,
      body: { metadata: { name: 'worker-gpu-0', labels: template.metadata!.labels }, spec: template.spec },
    });
    const pod = await admin.core.readNamespacedPod({ name: 'worker-gpu-0', namespace });
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.spec?.nodeName).toBeUndefined();
  });

  it('is reused, not restarted, by a second request in the same run', async () => {
    const t0 = Date.now();
    const again = await testKube();
    expect(again.server).toBe(cluster.server);
    expect(again.adminToken).toBe(cluster.adminToken);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
