/**
 * The credentials of the test control plane (test/support/kube-control-plane.ts): a CA and a serving
 * certificate for loopback, the service-account signing key pair, the admin's static token, and the
 * kubeconfigs that carry them to clients. Keys are made once per folder and kept, so a restarted
 * cluster keeps its kubeconfig valid.
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireTool } from '../../src/dev/tools';

/** The admin identity written into the token file and the kubeconfig. */
export const KUBE_ADMIN_USER = 'vldm-admin';
/** Members of this group pass every RBAC check (the bootstrap cluster-admin binding names it). */
export const KUBE_ADMIN_GROUP = 'system:masters';

const CLUSTER_NAME = 'vldm-local';
const CERT_DAYS = 3650;

/** Files of the control plane's keys, certificates and token, as kube-apiserver's flags name them. */
export interface Pki {
  caFile: string;
  caKey: string;
  certFile: string;
  keyFile: string;
  saKey: string;
  saPub: string;
  tokenFile: string;
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
export function ensurePki(dir: string): Pki {
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

/** The admin's bearer token, from the token file {@link ensurePki} wrote. */
export function adminTokenOf(tokenFile: string): string {
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
