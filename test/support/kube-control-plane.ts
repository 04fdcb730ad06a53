/**
 * A local Kubernetes control plane for the integration tests: Debian's etcd and the real kube-apiserver
 * (built by infra/setup.sh from k8s.io/kubernetes, see infra/kube-apiserver) on loopback, with RBAC on,
 * an admin user in system:masters authenticated by a static token, and a service-account signing key so
 * the TokenRequest API issues real service-account tokens. There is no kubelet, scheduler or
 * controller-manager: objects are stored and validated, but a Deployment never gets pods
 * (docs/kube-testing.md). Everything lives under one folder, detached from the calling process:
 *
 *   <stateDir>/kube/pki/{ca,apiserver}.{key,crt} sa.{key,pub}   tokens.csv   kubeconfig   cluster.json
 *   <stateDir>/kube/etcd/ (data)   etcd.{pid,json,log}   kube-apiserver.{pid,json,log}
 *
 * The keys (kube-pki.ts) and the admin token are made once and kept, so a restarted cluster keeps its
 * kubeconfig and its data. A live pair recorded in the folder (kube-processes.ts) is reused; anything
 * else on its ports is an error.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { UserError } from '../../src/common/errors';
import { LOOPBACK, portIsFree, waitUntilReady, withDirLock } from '../../src/dev/process';
import { requireTool } from '../../src/dev/tools';
import { KUBE_ADMIN_USER, adminTokenOf, ensurePki, kubeconfigText, type Pki } from './kube-pki';
import {
  COMPONENTS,
  liveRecord,
  readJson,
  startComponent,
  stopComponents,
  type Component,
} from './kube-processes';

/** Executables started here, by name (etcd from Debian's etcd-server, kube-apiserver from .tools/bin). */
export const KUBE_TOOL_NAMES = { etcd: 'etcd', kubeApiserver: 'kube-apiserver' } as const;

/** Loopback ports of the control plane. */
export interface KubePorts {
  /** kube-apiserver's HTTPS port. @default 6443 */
  apiserver: number;
  /** etcd's client port (only kube-apiserver talks to it). @default 2379 */
  etcdClient: number;
  /** etcd's peer port (a one-member cluster still listens on one). @default 2380 */
  etcdPeer: number;
}

export const KUBE_DEFAULT_PORTS: KubePorts = { apiserver: 6443, etcdClient: 2379, etcdPeer: 2380 };

/** The issuer (and default audience) of service-account tokens, as a real cluster names it. */
export const KUBE_SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** Cluster IPs for Services; nothing routes them here, but Service creation needs a range. */
export const KUBE_SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
/**
 * Admission plugins switched off because the controller that makes them pass does not run here.
 * ServiceAccount admission rejects every Pod until the service-account controller has created the
 * namespace's `default` ServiceAccount; without a controller-manager that never happens.
 */
export const KUBE_DISABLED_ADMISSION_PLUGINS = ['ServiceAccount'] as const;

const KUBE_DIR = 'kube';
const DEFAULT_READY_TIMEOUT_MS = 120_000;
const PROBE_TIMEOUT_MS = 3_000;

export interface KubeUpOptions {
  /** Folder under which `kube/` holds keys, data, logs and pid files. */
  stateDir: string;
  /** Ports to listen on; each defaults to {@link KUBE_DEFAULT_PORTS}. */
  ports?: Partial<KubePorts>;
  /** How long to wait for etcd and kube-apiserver to be ready, in ms. @default 120000 */
  readyTimeoutMs?: number;
}

/** What a client needs to reach the control plane as the admin. */
export interface KubeCluster {
  /** `https://127.0.0.1:<port>`. */
  server: string;
  /** A kubeconfig (context `vldm-local`) for the admin user, token-authenticated. */
  kubeconfigPath: string;
  /** Bearer token of {@link KUBE_ADMIN_USER}, a member of system:masters. */
  adminToken: string;
  /** PEM file of the CA that signed the serving certificate. */
  caFile: string;
  /** The same CA, as PEM text. */
  caPem: string;
  /** etcd's client URL. */
  etcdUrl: string;
  ports: KubePorts;
  /** The `kube/` folder. */
  dir: string;
}

function checkPorts(ports: Partial<KubePorts> | undefined): KubePorts {
  const resolved = { ...KUBE_DEFAULT_PORTS, ...ports };
  for (const [name, port] of Object.entries(resolved)) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new UserError(`kube port ${name} must be an integer from 1 to 65535, got ${String(port)}`);
    }
  }
  if (new Set(Object.values(resolved)).size !== 3) {
    throw new UserError(`kube ports must differ from each other, got ${JSON.stringify(resolved)}`);
  }
  return resolved;
}

function etcdArgs(dir: string, ports: KubePorts): string[] {
  const client = `http://${LOOPBACK}:${ports.etcdClient}`;
  const peer = `http://${LOOPBACK}:${ports.etcdPeer}`;
  return [
    '--name=vldm',
    `--data-dir=${path.join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=vldm=${peer}`,
    '--initial-cluster-state=new',
    '--logger=zap',
    '--log-level=warn',
    // Room for many test runs; the default (2 GiB) would also do, but a runaway test should stop early.
    `--quota-backend-bytes=${512 * 1024 * 1024}`,
  ];
}

function apiserverArgs(dir: string, pki: Pki, ports: KubePorts): string[] {
  return [
    `--etcd-servers=http://${LOOPBACK}:${ports.etcdClient}`,
    `--bind-address=${LOOPBACK}`,
    `--advertise-address=${LOOPBACK}`,
    // The endpoint reconciler publishes the advertise address as the `kubernetes` Service's endpoint and
    // refuses a loopback one; nothing here routes Services anyway.
    '--endpoint-reconciler-type=none',
    `--secure-port=${ports.apiserver}`,
    // Never the default /var/run/kubernetes: everything stays in the state folder.
    `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${pki.certFile}`,
    `--tls-private-key-file=${pki.keyFile}`,
    `--client-ca-file=${pki.caFile}`,
    `--token-auth-file=${pki.tokenFile}`,
    '--anonymous-auth=false',
    '--authorization-mode=RBAC',
    `--service-account-issuer=${KUBE_SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    `--service-cluster-ip-range=${KUBE_SERVICE_CLUSTER_IP_RANGE}`,
    `--disable-admission-plugins=${KUBE_DISABLED_ADMISSION_PLUGINS.join(',')}`,
    '--profiling=false',
  ];
}

/** GET over plain HTTP or HTTPS with a timeout; resolves with the status and body text. */
function fetchText(
  url: string,
  opts: { ca?: string; token?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    const options: https.RequestOptions = {
      method: 'GET',
      headers,
      timeout: opts.timeoutMs ?? PROBE_TIMEOUT_MS,
    };
    if (u.protocol === 'https:') options.ca = opts.ca;
    const req = (u.protocol === 'https:' ? https : http).request(u, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${options.timeout} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function probeEtcd(ports: KubePorts): Promise<void> {
  const { status, body } = await fetchText(`http://${LOOPBACK}:${ports.etcdClient}/health`);
  if (status !== 200 || !/"health"\s*:\s*"true"/.test(body))
    throw new Error(`etcd /health: ${status} ${body}`);
}

async function probeApiserver(server: string, caPem: string, token: string): Promise<void> {
  const { status, body } = await fetchText(`${server}/readyz`, { ca: caPem, token });
  if (status !== 200) throw new Error(`kube-apiserver /readyz: ${status} ${body.slice(0, 500)}`);
}

function clusterOf(dir: string, pki: Pki, ports: KubePorts): KubeCluster {
  return {
    server: `https://${LOOPBACK}:${ports.apiserver}`,
    kubeconfigPath: path.join(dir, 'kubeconfig'),
    adminToken: adminTokenOf(pki.tokenFile),
    caFile: pki.caFile,
    caPem: fs.readFileSync(pki.caFile, 'utf8'),
    etcdUrl: `http://${LOOPBACK}:${ports.etcdClient}`,
    ports,
    dir,
  };
}

/**
 * Starts etcd and kube-apiserver from `<stateDir>/kube`, or reuses the pair already running from there,
 * waits until kube-apiserver's /readyz passes, and returns how to reach it. A missing program fails
 * before anything starts, naming infra/setup.sh.
 */
export async function kubeUp(opts: KubeUpOptions): Promise<KubeCluster> {
  const ports = checkPorts(opts.ports);
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const dir = path.join(path.resolve(opts.stateDir), KUBE_DIR);
  fs.mkdirSync(dir, { recursive: true });

  return withDirLock(dir, readyTimeoutMs + 30_000, async () => {
    const saved = readJson<KubeCluster>(path.join(dir, 'cluster.json'));
    const live = COMPONENTS.filter((c) => liveRecord(dir, c));
    if (live.length === COMPONENTS.length && saved) {
      for (const key of Object.keys(ports) as (keyof KubePorts)[]) {
        const asked = opts.ports?.[key];
        if (asked !== undefined && asked !== saved.ports[key]) {
          throw new UserError(
            `the kube control plane in ${dir} is already running with its ${key} port on ${saved.ports[key]}, ` +
              `not ${asked} as asked; stop it first (kubeDown) or use another state dir`,
          );
        }
      }
      await probeApiserver(saved.server, saved.caPem, saved.adminToken);
      return saved;
    }
    // Half a control plane (one of the two died) is restarted whole; the data in etcd/ stays.
    await stopComponents(dir, COMPONENTS);

    const etcd = requireTool(KUBE_TOOL_NAMES.etcd);
    const apiserver = requireTool(KUBE_TOOL_NAMES.kubeApiserver);
    for (const [role, port] of Object.entries(ports)) {
      if (!(await portIsFree(port))) {
        throw new UserError(
          `kube ${role} port ${port} on ${LOOPBACK} is already in use by another program (not one started ` +
            `from ${dir}); stop that program or choose other ports`,
        );
      }
    }
    const pki = ensurePki(dir);
    const cluster = clusterOf(dir, pki, ports);
    fs.writeFileSync(
      cluster.kubeconfigPath,
      kubeconfigText({
        server: cluster.server,
        caPem: cluster.caPem,
        token: cluster.adminToken,
        user: KUBE_ADMIN_USER,
      }),
      { mode: 0o600 },
    );

    const deadline = Date.now() + readyTimeoutMs;
    const started: Component[] = [];
    try {
      const etcdRecord = startComponent(dir, 'etcd', etcd, etcdArgs(dir, ports));
      started.push('etcd');
      await waitUntilReady(
        {
          name: etcdRecord.component,
          pid: etcdRecord.pid,
          binary: etcdRecord.binary,
          logFile: etcdRecord.logFile,
        },
        () => probeEtcd(ports),
        deadline,
      );
      const apiRecord = startComponent(dir, 'kube-apiserver', apiserver, apiserverArgs(dir, pki, ports));
      started.push('kube-apiserver');
      await waitUntilReady(
        {
          name: apiRecord.component,
          pid: apiRecord.pid,
          binary: apiRecord.binary,
          logFile: apiRecord.logFile,
        },
        () => probeApiserver(cluster.server, cluster.caPem, cluster.adminToken),
        deadline,
      );
    } catch (err) {
      // A control plane that never became ready is of no use to anyone: stop what we started.
      await stopComponents(dir, started).catch(() => undefined);
      throw err;
    }
    fs.writeFileSync(path.join(dir, 'cluster.json'), JSON.stringify(cluster, null, 2) + '\n', {
      mode: 0o600,
    });
    return cluster;
  });
}

/** Stops the control plane running from `<stateDir>/kube`; returns what it stopped. Keys and data stay. */
export async function kubeDown(opts: { stateDir: string }): Promise<Component[]> {
  const dir = path.join(path.resolve(opts.stateDir), KUBE_DIR);
  if (!fs.existsSync(dir)) return [];
  return withDirLock(dir, 60_000, async () => {
    const stopped = await stopComponents(dir, COMPONENTS);
    fs.rmSync(path.join(dir, 'cluster.json'), { force: true });
    return stopped;
  });
}
