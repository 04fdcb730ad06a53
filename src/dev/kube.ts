/**
 * A local Kubernetes control plane for tests and development: Debian's etcd and the real kube-apiserver
 * (built by infra/setup.sh from k8s.io/kubernetes, see infra/kube-apiserver) on loopback, with RBAC on,
 * an admin user in system:masters authenticated by a static token, and a service-account signing key so
 * the TokenRequest API issues real service-account tokens. There is no kubelet, scheduler or
 * controller-manager: objects are stored and validated, but a Deployment never gets pods
 * (docs/kube-testing.md). Everything lives under one folder, detached from the calling process:
 *
 *   <stateDir>/kube/pki/{ca,apiserver}.{key,crt} sa.{key,pub}   tokens.csv   kubeconfig   cluster.json
 *   <stateDir>/kube/etcd/ (data)   etcd.{pid,json,log}   kube-apiserver.{pid,json,log}
 *
 * The keys and the admin token are made once and kept, so a restarted cluster keeps its kubeconfig and
 * its data. A live pair recorded in the folder is reused; anything else on its ports is an error.
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { UserError } from '../common/errors';
import { requireTool } from './tools';
import {
  LOOPBACK,
  isRunning,
  portIsFree,
  spawnDetached,
  stopProcess,
  waitUntilReady,
  withDirLock,
} from './process';

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

/** The admin identity written into the token file and the kubeconfig. */
export const KUBE_ADMIN_USER = 'vldm-admin';
/** Members of this group pass every RBAC check (the bootstrap cluster-admin binding names it). */
export const KUBE_ADMIN_GROUP = 'system:masters';
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
const CLUSTER_NAME = 'vldm-local';
const DEFAULT_READY_TIMEOUT_MS = 120_000;
const PROBE_TIMEOUT_MS = 3_000;
const CERT_DAYS = 3650;

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
  /** Bearer token of {@link KUBE_ADMIN_USER}, a member of {@link KUBE_ADMIN_GROUP}. */
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

type Component = 'etcd' | 'kube-apiserver';
const COMPONENTS: Component[] = ['etcd', 'kube-apiserver'];

interface ComponentRecord {
  component: Component;
  pid: number;
  binary: string;
  args: string[];
  startedAt: string;
  logFile: string;
}

interface Pki {
  caFile: string;
  caKey: string;
  certFile: string;
  keyFile: string;
  saKey: string;
  saPub: string;
  tokenFile: string;
}

const componentFiles = (dir: string, c: Component) => ({
  pid: path.join(dir, `${c}.pid`),
  record: path.join(dir, `${c}.json`),
  log: path.join(dir, `${c}.log`),
});

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

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function liveRecord(dir: string, c: Component): ComponentRecord | undefined {
  const record = readJson<ComponentRecord>(componentFiles(dir, c).record);
  return record && isRunning(record.pid, record.binary) ? record : undefined;
}

function removeRecord(dir: string, c: Component): void {
  const f = componentFiles(dir, c);
  fs.rmSync(f.record, { force: true });
  fs.rmSync(f.pid, { force: true });
}

function openssl(args: string[], cwd: string): void {
  const binary = requireTool('openssl');
  try {
    execFileSync(binary, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr || String(err)}`, { cause: err });
  }
}

/**
 * Makes the CA, the serving certificate (for 127.0.0.1 and localhost), the service-account key pair and
 * the admin token, each only when missing. Node cannot issue X.509 certificates, so openssl does.
 */
function ensurePki(dir: string): Pki {
  const pkiDir = path.join(dir, 'pki');
  fs.mkdirSync(pkiDir, { recursive: true, mode: 0o700 });
  const pki: Pki = {
    caFile: path.join(pkiDir, 'ca.crt'),
    caKey: path.join(pkiDir, 'ca.key'),
    certFile: path.join(pkiDir, 'apiserver.crt'),
    keyFile: path.join(pkiDir, 'apiserver.key'),
    saKey: path.join(pkiDir, 'sa.key'),
    saPub: path.join(pkiDir, 'sa.pub'),
    tokenFile: path.join(dir, 'tokens.csv'),
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  if (!fs.existsSync(pki.caFile) || !fs.existsSync(pki.caKey)) {
    openssl(
      ['req', '-x509', ...ec, '-keyout', pki.caKey, '-out', pki.caFile, '-days', String(CERT_DAYS)]
        .concat(['-subj', '/CN=vldm-local-ca', '-addext', 'basicConstraints=critical,CA:TRUE'])
        .concat(['-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
      pkiDir,
    );
    // A new CA invalidates the serving certificate signed by the old one.
    fs.rmSync(pki.certFile, { force: true });
  }
  if (!fs.existsSync(pki.certFile) || !fs.existsSync(pki.keyFile)) {
    openssl(
      ['req', '-x509', ...ec, '-keyout', pki.keyFile, '-out', pki.certFile, '-days', String(CERT_DAYS)]
        .concat(['-CA', pki.caFile, '-CAkey', pki.caKey, '-subj', '/CN=kube-apiserver'])
        .concat(['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc'])
        .concat(['-addext', 'basicConstraints=critical,CA:FALSE'])
        .concat(['-addext', 'keyUsage=critical,digitalSignature,keyEncipherment'])
        .concat(['-addext', 'extendedKeyUsage=serverAuth']),
      pkiDir,
    );
  }
  if (!fs.existsSync(pki.saKey) || !fs.existsSync(pki.saPub)) {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    fs.writeFileSync(pki.saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    fs.writeFileSync(pki.saPub, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  if (!fs.existsSync(pki.tokenFile)) {
    // Format: token,user,uid,"group1,group2" (kube-apiserver --token-auth-file).
    const token = crypto.randomBytes(32).toString('hex');
    fs.writeFileSync(
      pki.tokenFile,
      `${token},${KUBE_ADMIN_USER},${KUBE_ADMIN_USER},"${KUBE_ADMIN_GROUP}"\n`,
      {
        mode: 0o600,
      },
    );
  }
  return pki;
}

function adminTokenOf(tokenFile: string): string {
  const token = fs.readFileSync(tokenFile, 'utf8').split(',')[0]?.trim();
  if (!token) throw new Error(`${tokenFile} holds no token; delete it and start again`);
  return token;
}

/** Options for {@link kubeconfigText}. */
export interface KubeconfigSpec {
  server: string;
  caPem: string;
  token: string;
  /** The user entry's name (informational). */
  user: string;
  /** Act as this user on every request (kubeconfig `as:`; the token's user must be allowed to impersonate). */
  impersonate?: string;
}

/** A kubeconfig with one cluster, one token user and one current context, named `vldm-local`. */
export function kubeconfigText(spec: KubeconfigSpec): string {
  const ca = Buffer.from(spec.caPem).toString('base64');
  // JSON-quoted scalars are valid YAML, so no value can break the document.
  const q = (s: string) => JSON.stringify(s);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${CLUSTER_NAME}`,
    '  cluster:',
    `    server: ${q(spec.server)}`,
    `    certificate-authority-data: ${q(ca)}`,
    'users:',
    `- name: ${q(spec.user)}`,
    '  user:',
    `    token: ${q(spec.token)}`,
    ...(spec.impersonate ? [`    as: ${q(spec.impersonate)}`] : []),
    'contexts:',
    `- name: ${CLUSTER_NAME}`,
    '  context:',
    `    cluster: ${CLUSTER_NAME}`,
    `    user: ${q(spec.user)}`,
    `current-context: ${CLUSTER_NAME}`,
    '',
  ].join('\n');
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

function start(dir: string, component: Component, binary: string, args: string[]): ComponentRecord {
  const f = componentFiles(dir, component);
  // gRPC (etcd's client inside kube-apiserver) honours proxy variables; loopback must never be proxied.
  const noProxy = [process.env.NO_PROXY, LOOPBACK, 'localhost'].filter(Boolean).join(',');
  const env = { ...process.env, NO_PROXY: noProxy, no_proxy: noProxy };
  const pid = spawnDetached(binary, args, { cwd: dir, env, logFile: f.log });
  const record: ComponentRecord = {
    component,
    pid,
    binary,
    args,
    startedAt: new Date().toISOString(),
    logFile: f.log,
  };
  fs.writeFileSync(f.record, JSON.stringify(record, null, 2) + '\n');
  fs.writeFileSync(f.pid, `${pid}\n`);
  return record;
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

async function stopComponents(dir: string, components: Component[]): Promise<Component[]> {
  const stopped: Component[] = [];
  // kube-apiserver first: stopped before its etcd, it shuts down cleanly instead of retrying.
  for (const c of [...components].reverse()) {
    const record = liveRecord(dir, c);
    if (record) {
      await stopProcess(record.pid);
      stopped.push(c);
    }
    removeRecord(dir, c);
  }
  return stopped;
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
      const etcdRecord = start(dir, 'etcd', etcd, etcdArgs(dir, ports));
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
      const apiRecord = start(dir, 'kube-apiserver', apiserver, apiserverArgs(dir, pki, ports));
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

/** One request to the API server; see {@link kubeRequest}. */
export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query, e.g. `/apis/apps/v1/namespaces/a/deployments`. */
  path: string;
  /** Sent as JSON. */
  body?: unknown;
  /** @default 'application/json'; PATCH needs e.g. 'application/merge-patch+json'. */
  contentType?: string;
  /** Bearer token. @default the admin token */
  token?: string;
  /** Act as this user (an `Impersonate-User` header; the token's user needs the `impersonate` verb). */
  impersonateUser?: string;
  /** `Impersonate-Group` headers to go with {@link impersonateUser}. */
  impersonateGroups?: string[];
}

/** The API server's answer: status code and the parsed JSON body (text when it is not JSON). */
export interface KubeResponse {
  status: number;
  body: unknown;
}

/**
 * Sends one request to the API server over HTTPS with the cluster's CA, without a client library: what
 * src/dev needs for itself (tokens, readiness), and a way to see the raw status and Status object.
 */
export function kubeRequest(
  cluster: Pick<KubeCluster, 'server' | 'caPem' | 'adminToken'>,
  req: KubeRequest,
): Promise<KubeResponse> {
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  const headers: Record<string, string | string[]> = {
    Accept: 'application/json',
    Authorization: `Bearer ${req.token ?? cluster.adminToken}`,
  };
  if (payload) {
    headers['Content-Type'] = req.contentType ?? 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  if (req.impersonateUser) headers['Impersonate-User'] = req.impersonateUser;
  if (req.impersonateGroups?.length) headers['Impersonate-Group'] = req.impersonateGroups;
  return new Promise((resolve, reject) => {
    const r = https.request(
      new URL(req.path, cluster.server),
      { method: req.method, headers, ca: cluster.caPem, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON (e.g. /readyz): keep the text.
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`${req.method} ${req.path}: no answer within 30 s`)));
    r.on('error', reject);
    r.end(payload);
  });
}

/** The user name Kubernetes gives a ServiceAccount, e.g. for impersonation. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/**
 * A real, signed token for an existing ServiceAccount (the TokenRequest API: kube-apiserver signs it with
 * the service-account key, no controller involved). With it a client authenticates exactly as a pod
 * running under that ServiceAccount would.
 */
export async function serviceAccountToken(
  cluster: Pick<KubeCluster, 'server' | 'caPem' | 'adminToken'>,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
): Promise<string> {
  const res = await kubeRequest(cluster, {
    method: 'POST',
    path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}/token`,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
  });
  const token = (res.body as { status?: { token?: unknown } }).status?.token;
  if (res.status !== 201 || typeof token !== 'string') {
    throw new Error(
      `TokenRequest for ${namespace}/${name} failed: ${res.status} ${JSON.stringify(res.body)}`,
    );
  }
  return token;
}

/** Writes a kubeconfig that authenticates as `namespace/name` with a fresh {@link serviceAccountToken}. */
export async function writeServiceAccountKubeconfig(
  cluster: KubeCluster,
  namespace: string,
  name: string,
  file: string,
): Promise<string> {
  const token = await serviceAccountToken(cluster, namespace, name);
  const text = kubeconfigText({
    server: cluster.server,
    caPem: cluster.caPem,
    token,
    user: serviceAccountUser(namespace, name),
  });
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}
