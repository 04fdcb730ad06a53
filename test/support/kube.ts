/**
 * A real Kubernetes API server (etcd + kube-apiserver, kube-control-plane.ts) for integration tests, on
 * loopback ports away from the usual ones and shifted by $VLDM_TEST_PORT_OFFSET like the other test
 * servers. The first test file that asks starts it in the run's state folder; later files reuse it;
 * test/support/global-setup.ts stops it at the end of the run. A missing program fails the test with
 * "run infra/setup.sh --kube", never a skip.
 */
import * as crypto from 'node:crypto';
import { MissingToolError } from '../../src/dev/tools';
import { kubeUp, type KubeCluster, type KubeControllerPorts, type KubePorts } from './kube-control-plane';
import { kubeRequest } from './kube-rest';
import { TEST_PORTS, TEST_PORT_OFFSET_ENV, testStateDir } from './servers';
import { UserError } from '../../src/common/errors';

// TEST_PORTS carries the run's port offset; recovering it keeps one definition of that offset.
const offset = TEST_PORTS.temporal - 17233;

/** 6443/2379/2380 with a leading 1, plus $VLDM_TEST_PORT_OFFSET. */
export const TEST_KUBE_PORTS: KubePorts = {
  apiserver: 16443 + offset,
  etcdClient: 12379 + offset,
  etcdPeer: 12380 + offset,
};

/**
 * The full control plane's ports (its own etcd and API server beside the apiserver-only one): 6444, 2381
 * and 2382 with a leading 1, and the components' usual health ports 10257, 10259 and 10247 with a
 * leading 2, each plus $VLDM_TEST_PORT_OFFSET.
 */
export const TEST_KUBE_FULL_PORTS: KubePorts & KubeControllerPorts = {
  apiserver: 16444 + offset,
  etcdClient: 12381 + offset,
  etcdPeer: 12382 + offset,
  controllerManager: 20257 + offset,
  scheduler: 20259 + offset,
  kwok: 20247 + offset,
};

/** Starts (or reuses) the run's API server; resolves with the admin's kubeconfig, URL, token and CA. */
export async function testKube(): Promise<KubeCluster> {
  return startTestKube(false);
}

/**
 * Starts (or reuses) the run's full control plane: API server, controller manager, scheduler and kwok
 * (kube-control-plane.ts). Its nodes are the ones a test creates (test/support/kube-nodes.ts).
 */
export async function testKubeFull(): Promise<KubeCluster> {
  return startTestKube(true);
}

async function startTestKube(full: boolean): Promise<KubeCluster> {
  const stateDir = testStateDir();
  const { apiserver, etcdClient, etcdPeer, controllerManager, scheduler, kwok } = TEST_KUBE_FULL_PORTS;
  try {
    return await kubeUp(
      full
        ? {
            stateDir,
            ports: { apiserver, etcdClient, etcdPeer },
            full: { controllerManager, scheduler, kwok },
          }
        : { stateDir, ports: TEST_KUBE_PORTS },
    );
  } catch (err) {
    if (err instanceof MissingToolError) {
      err.message += ` (etcd and ${full ? 'the control plane and kwok are' : 'kube-apiserver are'} installed only by \`infra/setup.sh --kube\`, or in CI)`;
    } else if (err instanceof UserError && /already in use|already running/.test(err.message)) {
      err.message +=
        ` (an API server of another run holds these ports? set ${TEST_PORT_OFFSET_ENV}, e.g. 100, to shift ` +
        `every test port; this run's state dir is ${stateDir})`;
    }
    throw err;
  }
}

/**
 * Creates a namespace with a unique name and returns it. Test files share one API server and nothing
 * deletes a namespace's contents here (no namespace controller: a deleted namespace stays Terminating),
 * so each test works in its own fresh one instead of cleaning up.
 */
export async function testNamespace(cluster: KubeCluster, prefix: string): Promise<string> {
  const name = `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
  const res = await kubeRequest(cluster, {
    method: 'POST',
    path: '/api/v1/namespaces',
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
  if (res.status !== 201)
    throw new Error(`creating namespace ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return name;
}
