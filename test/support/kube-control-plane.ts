/**
 * A local Kubernetes control plane for the integration tests: Debian's etcd and the real kube-apiserver
 * (built by infra/setup.sh from k8s.io/kubernetes, see infra/kube-apiserver) on loopback, with RBAC on,
 * an admin user in system:masters authenticated by a static token, and a service-account signing key so
 * the TokenRequest API issues real service-account tokens. By default there is no kubelet, scheduler or
 * controller-manager: objects are stored and validated, but a Deployment never gets pods
 * (docs/kube-testing.md). With `full`, the real kube-controller-manager and kube-scheduler (built from
 * the same k8s.io/kubernetes module, infra/kube-apiserver) run too, with kwok's fake nodes: Deployments
 * get ReplicaSets and pods, the scheduler binds them to nodes, PDBs and evictions work. Still no
 * kubelet: kwok marks the pods bound to its nodes Running and Ready, no container ever starts.
 * Everything lives under one folder, detached from the calling process:
 *
 *   <stateDir>/kube[-full]/pki/{ca,apiserver}.{key,crt} sa.{key,pub}   tokens.csv   kubeconfig   cluster.json
 *   <stateDir>/kube[-full]/etcd/ (data)   <component>.{pid,json,log} for each component
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
import { repoRoot } from '../../src/host/paths';
import { LOOPBACK, portIsFree, waitUntilReady, withDirLock } from '../../src/dev/process';
import { requireTool } from '../../src/dev/tools';
import { KUBE_ADMIN_USER, adminTokenOf, ensurePki, kubeconfigText, type Pki } from './kube-pki';
import {
  COMPONENTS,
  FULL_COMPONENTS,
  liveRecord,
  readJson,
  startComponent,
  stopComponents,
  type Component,
} from './kube-processes';

/** Executables started here, by name (etcd from Debian's etcd-server, the rest from .tools/bin). */
export const KUBE_TOOL_NAMES = {
  etcd: 'etcd',
  kubeApiserver: 'kube-apiserver',
  kubeControllerManager: 'kube-controller-manager',
  kubeScheduler: 'kube-scheduler',
  kwok: 'kwok',
} as const;

/**
 * The Stage objects kwok runs with (node initialisation and heartbeats, pods Ready, deleted pods
 * removed): infra/setup.sh writes them from the kwok module it built the binary from.
 */
export const KWOK_STAGES_FILE = path.join('.tools', 'share', 'kwok', 'stages.yaml');
/** kwok manages only the nodes that carry this annotation (the tests' fake nodes). */
export const KWOK_NODE_ANNOTATION = { key: 'kwok.x-k8s.io/node', value: 'fake' } as const;

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

/** Loopback ports of a full control plane's other components (their health endpoints). */
export interface KubeControllerPorts {
  /** kube-controller-manager's HTTPS port (/healthz). */
  controllerManager: number;
  /** kube-scheduler's HTTPS port (/healthz). */
  scheduler: number;
  /** kwok's HTTP server (/healthz). */
  kwok: number;
}

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
const KUBE_FULL_DIR = 'kube-full';
const DEFAULT_READY_TIMEOUT_MS = 120_000;
const PROBE_TIMEOUT_MS = 3_000;

export interface KubeUpOptions {
  /** Folder under which `kube/` holds keys, data, logs and pid files. */
  stateDir: string;
  /** Ports to listen on; each defaults to {@link KUBE_DEFAULT_PORTS}. */
  ports?: Partial<KubePorts>;
  /** How long to wait for etcd and kube-apiserver to be ready, in ms. @default 120000 */
  readyTimeoutMs?: number;
  /**
   * A full control plane: also kube-controller-manager, kube-scheduler and kwok, on these ports, in
   * `<stateDir>/kube-full` (its own etcd and API server, so the apiserver-only tests keep theirs).
   */
  full?: KubeControllerPorts;
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
  /** The full control plane's other ports, when it is one. */
  controllerPorts?: KubeControllerPorts;
  /** The `kube/` (or `kube-full/`) folder. */
  dir: string;
}

function checkPorts(ports: Partial<KubePorts> | undefined, full?: KubeControllerPorts): KubePorts {
  const resolved = { ...KUBE_DEFAULT_PORTS, ...ports };
  const all = { ...resolved, ...full };
  for (const [name, port] of Object.entries(all)) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new UserError(`kube port ${name} must be an integer from 1 to 65535, got ${String(port)}`);
    }
  }
  if (new Set(Object.values(all)).size !== Object.keys(all).length) {
    throw new UserError(`kube ports must differ from each other, got ${JSON.stringify(all)}`);
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

/**
 * kube-controller-manager with every default controller (deployment, replicaset, disruption, podgc,
 * namespace, garbage collector, service account, node lifecycle, ...), as the admin (one identity for
 * all controllers: `--use-service-account-credentials` is off), without leader election.
 */
function controllerManagerArgs(dir: string, pki: Pki, port: number): string[] {
  const kubeconfig = path.join(dir, 'kubeconfig');
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    `--bind-address=${LOOPBACK}`,
    `--secure-port=${port}`,
    `--cert-dir=${path.join(dir, 'controller-manager-certs')}`,
    '--leader-elect=false',
    `--root-ca-file=${pki.caFile}`,
    `--service-account-private-key-file=${pki.saKey}`,
    '--profiling=false',
  ];
}

function schedulerArgs(dir: string, port: number): string[] {
  const kubeconfig = path.join(dir, 'kubeconfig');
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    `--bind-address=${LOOPBACK}`,
    `--secure-port=${port}`,
    `--cert-dir=${path.join(dir, 'scheduler-certs')}`,
    '--leader-elect=false',
    '--profiling=false',
  ];
}

/** kwok for the nodes annotated {@link KWOK_NODE_ANNOTATION} only, with the stages setup wrote. */
function kwokArgs(dir: string, stages: string, port: number): string[] {
  return [
    `--kubeconfig=${path.join(dir, 'kubeconfig')}`,
    `--config=${stages}`,
    '--manage-all-nodes=false',
    `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION.key}=${KWOK_NODE_ANNOTATION.value}`,
    // Pod IPs are only written into pod status: nothing routes them.
    '--cidr=10.244.0.0/16',
    `--server-address=${LOOPBACK}:${port}`,
  ];
}

/** GET over plain HTTP or HTTPS with a timeout; resolves with the status and body text. */
function fetchText(
  url: string,
  opts: { ca?: string; token?: string; timeoutMs?: number; insecure?: boolean } = {},
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
    // The scheduler's and controller manager's self-signed serving certificates: /healthz only.
    if (opts.insecure) options.rejectUnauthorized = false;
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

/** /healthz of a component that serves it (HTTPS with a self-signed certificate, or kwok's HTTP). */
async function probeHealthz(name: string, url: string): Promise<void> {
  const { status, body } = await fetchText(url, { insecure: true });
  if (status !== 200) throw new Error(`${name} ${url}: ${status} ${body.slice(0, 300)}`);
}

function clusterOf(dir: string, pki: Pki, ports: KubePorts, full?: KubeControllerPorts): KubeCluster {
  return {
    server: `https://${LOOPBACK}:${ports.apiserver}`,
    kubeconfigPath: path.join(dir, 'kubeconfig'),
    adminToken: adminTokenOf(pki.tokenFile),
    caFile: pki.caFile,
    caPem: fs.readFileSync(pki.caFile, 'utf8'),
    etcdUrl: `http://${LOOPBACK}:${ports.etcdClient}`,
    ports,
    ...(full ? { controllerPorts: full } : {}),
    dir,
  };
}

/**
 * Starts etcd and kube-apiserver from `<stateDir>/kube`, or reuses the pair already running from there,
 * waits until kube-apiserver's /readyz passes, and returns how to reach it. A missing program fails
 * before anything starts, naming infra/setup.sh.
 */
export async function kubeUp(opts: KubeUpOptions): Promise<KubeCluster> {
  const ports = checkPorts(opts.ports, opts.full);
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const dir = path.join(path.resolve(opts.stateDir), opts.full ? KUBE_FULL_DIR : KUBE_DIR);
  const components = opts.full ? FULL_COMPONENTS : COMPONENTS;
  fs.mkdirSync(dir, { recursive: true });

  return withDirLock(dir, readyTimeoutMs + 30_000, async () => {
    const saved = readJson<KubeCluster>(path.join(dir, 'cluster.json'));
    const live = components.filter((c) => liveRecord(dir, c));
    if (live.length === components.length && saved) {
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
    // Part of a control plane (one of its processes died) is restarted whole; the data in etcd/ stays.
    await stopComponents(dir, components);

    const etcd = requireTool(KUBE_TOOL_NAMES.etcd);
    const apiserver = requireTool(KUBE_TOOL_NAMES.kubeApiserver);
    const extra = opts.full
      ? {
          controllerManager: requireTool(KUBE_TOOL_NAMES.kubeControllerManager),
          scheduler: requireTool(KUBE_TOOL_NAMES.kubeScheduler),
          kwok: requireTool(KUBE_TOOL_NAMES.kwok),
          stages: path.join(repoRoot(), KWOK_STAGES_FILE),
        }
      : undefined;
    if (extra && !fs.existsSync(extra.stages)) {
      throw new UserError(`kwok's stages file ${extra.stages} is missing: run infra/setup.sh --kube`);
    }
    for (const [role, port] of Object.entries({ ...ports, ...opts.full })) {
      if (!(await portIsFree(port))) {
        throw new UserError(
          `kube ${role} port ${port} on ${LOOPBACK} is already in use by another program (not one started ` +
            `from ${dir}); stop that program or choose other ports`,
        );
      }
    }
    const pki = ensurePki(dir);
    const cluster = clusterOf(dir, pki, ports, opts.full);
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
      if (extra && opts.full) {
        const full = opts.full;
        const rest: Array<[Component, string, string[], string]> = [
          [
            'kube-controller-manager',
            extra.controllerManager,
            controllerManagerArgs(dir, pki, full.controllerManager),
            `https://${LOOPBACK}:${full.controllerManager}/healthz`,
          ],
          [
            'kube-scheduler',
            extra.scheduler,
            schedulerArgs(dir, full.scheduler),
            `https://${LOOPBACK}:${full.scheduler}/healthz`,
          ],
          [
            'kwok',
            extra.kwok,
            kwokArgs(dir, extra.stages, full.kwok),
            `http://${LOOPBACK}:${full.kwok}/healthz`,
          ],
        ];
        for (const [component, binary, args] of rest) {
          startComponent(dir, component, binary, args);
          started.push(component);
        }
        await Promise.all(
          rest.map(([component, , , url]) => {
            const record = liveRecord(dir, component);
            return waitUntilReady(
              {
                name: component,
                pid: record?.pid ?? -1,
                binary: record?.binary ?? component,
                logFile: path.join(dir, `${component}.log`),
              },
              () => probeHealthz(component, url),
              deadline,
            );
          }),
        );
      }
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

/**
 * Stops the control planes running from `<stateDir>/kube` and `<stateDir>/kube-full`; returns what it
 * stopped. Keys and data stay.
 */
export async function kubeDown(opts: { stateDir: string }): Promise<Component[]> {
  const stopped: Component[] = [];
  for (const name of [KUBE_DIR, KUBE_FULL_DIR]) {
    const dir = path.join(path.resolve(opts.stateDir), name);
    if (!fs.existsSync(dir)) continue;
    stopped.push(
      ...(await withDirLock(dir, 60_000, async () => {
        const s = await stopComponents(dir, FULL_COMPONENTS);
        fs.rmSync(path.join(dir, 'cluster.json'), { force: true });
        return s;
      })),
    );
  }
  return stopped;
}
