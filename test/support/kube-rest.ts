/**
 * A small REST client for the test control plane (test/support/kube-control-plane.ts), without a client
 * library: raw requests that show the status code and Status object a test asserts on, and real
 * service-account tokens (the TokenRequest API) with kubeconfigs that use them.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { KubeCluster } from './kube-control-plane';
import { kubeconfigText } from './kube-pki';

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
 * Sends one request to the API server over HTTPS with the cluster's CA, as the admin unless told
 * otherwise; a body that is not JSON comes back as text.
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
