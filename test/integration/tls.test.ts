/**
 * Temporal TLS and mTLS (VLDM_TEMPORAL_TLS_*, src/config/tls.ts) against real TLS endpoints. The
 * Temporal dev server (CLI 1.5.1, server 1.29.1) has no TLS option, so each endpoint here is a
 * TLS-terminating TCP pass-through (node:tls, ALPN h2) in front of the test Temporal server, the way a
 * load balancer or sidecar terminates TLS in front of a Temporal frontend: the handshake, the server
 * certificate check, the server name and the client certificate are all real; what is not covered is
 * Temporal's own TLS configuration. Certificates are made at test time with the openssl CLI.
 *
 * `vldm` runs as separate processes, configured only through the environment: a worker and a client
 * run a whole job over mTLS; a wrong CA, a missing client certificate, a wrong server name and a
 * plain connection each fail with exit 2 and one clear line.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { UserError } from '../../src/common/errors';
import { temporalTlsFromEnv } from '../../src/config/tls';
import { runCli, startCli } from '../support/cli';
import { CONTRACT_PACK } from '../support/pipeline';
import { testServers, testStateDir } from '../support/servers';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vldm-tls-'));
const SERVER_NAME = 'temporal.vldm.test';

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed CA (P-256): `<name>.pem`, `<name>.key`. */
function makeCa(name: string): string {
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]); // prettier-ignore
  return path.join(dir, `${name}.pem`);
}

/** A leaf certificate signed by CA `ca`: `<name>.pem`, `<name>.key`. */
function makeLeaf(name: string, ca: string, usage: 'serverAuth' | 'clientAuth', san?: string) {
  writeFileSync(
    path.join(dir, `${name}.ext`),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature',
      `extendedKeyUsage=${usage}`,
      ...(san ? [`subjectAltName=${san}`] : []),
    ].join('\n'),
  );
  openssl([
    'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`,
  ]); // prettier-ignore
  openssl([
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-out', `${name}.pem`,
    '-extfile', `${name}.ext`,
  ]); // prettier-ignore
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

interface TlsProxy {
  address: string;
  /** Every accepted TLS session: whether the client certificate verified, and its subject CN. */
  sessions: Array<{ authorized: boolean; clientCn?: string; alpn: string | false | null }>;
  /** Handshakes the proxy refused (e.g. no client certificate). */
  refused: string[];
  close(): Promise<void>;
}

/**
 * A TLS endpoint on a free loopback port that forwards the decrypted bytes to `target` (the dev
 * server's plaintext gRPC port). With `clientCa` it requires a client certificate signed by it.
 */
async function startTlsProxy(
  leaf: { cert: string; key: string },
  target: string,
  clientCa?: string,
): Promise<TlsProxy> {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const sessions: TlsProxy['sessions'] = [];
  const refused: string[] = [];
  const open = new Set<net.Socket>();
  const server = tls.createServer(
    {
      cert: readFileSync(leaf.cert),
      key: readFileSync(leaf.key),
      ALPNProtocols: ['h2'], // gRPC clients insist on HTTP/2 being negotiated
      ...(clientCa ? { ca: readFileSync(clientCa), requestCert: true, rejectUnauthorized: true } : {}),
    },
    (socket) => {
      const peer = socket.getPeerCertificate();
      sessions.push({
        authorized: socket.authorized,
        ...(peer?.subject?.CN ? { clientCn: String(peer.subject.CN) } : {}),
        alpn: socket.alpnProtocol,
      });
      const upstream = net.connect(port, host);
      for (const s of [socket, upstream]) {
        open.add(s);
        s.on('close', () => open.delete(s));
      }
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
      socket.on('close', () => upstream.destroy());
      upstream.on('close', () => socket.destroy());
    },
  );
  server.on('tlsClientError', (err) => refused.push(err.message));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    sessions,
    refused,
    async close() {
      for (const s of open) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

let temporal: { address: string; namespace: string };
let tlsOnly: TlsProxy;
let mtls: TlsProxy;
const files = {} as {
  ca: string;
  wrongCa: string;
  clientCa: string;
  client: { cert: string; key: string };
  strayClient: { cert: string; key: string };
};

beforeAll(async () => {
  temporal = (await testServers({ kinds: ['temporal'] })).temporal!;
  files.ca = makeCa('server-ca');
  files.wrongCa = makeCa('other-ca');
  files.clientCa = makeCa('client-ca');
  // The TLS-only endpoint's certificate names 127.0.0.1, the mTLS one only a DNS name (so the server
  // name setting is needed and tested).
  const byIp = makeLeaf('frontend-ip', 'server-ca', 'serverAuth', 'IP:127.0.0.1');
  const byName = makeLeaf('frontend-dns', 'server-ca', 'serverAuth', `DNS:${SERVER_NAME}`);
  files.client = makeLeaf('vldm-client', 'client-ca', 'clientAuth');
  files.strayClient = makeLeaf('stray-client', 'other-ca', 'clientAuth');
  tlsOnly = await startTlsProxy(byIp, temporal.address);
  mtls = await startTlsProxy(byName, temporal.address, files.clientCa);
});

afterAll(async () => {
  await tlsOnly?.close();
  await mtls?.close();
});

/** The lines vldm itself wrote (Node's own deprecation notices about TLS to an IP address aside). */
const vldmLines = (stderr: string) =>
  stderr
    .trim()
    .split('\n')
    .filter((l) => !/^\(node:\d+\)|^\(Use `node/.test(l));

/** `vldm list --json` against `address` with these TLS settings (and nothing else from this process). */
const list = (address: string, tlsEnv: NodeJS.ProcessEnv) =>
  runCli(['list', '--json', '--nats', 'off', '--state-dir', testStateDir()], {
    VLDM_TEMPORAL_ADDRESS: address,
    VLDM_TEMPORAL_NAMESPACE: temporal.namespace,
    ...tlsEnv,
  });

describe('Temporal over TLS (server certificate only)', () => {
  it('connects with VLDM_TEMPORAL_TLS_CA_FILE, and the session really is TLS', async () => {
    const before = tlsOnly.sessions.length;
    const r = await list(tlsOnly.address, { VLDM_TEMPORAL_TLS_CA_FILE: files.ca });
    expect(r.code, r.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(r.stdout))).toBe(true);
    expect(tlsOnly.sessions.length).toBeGreaterThan(before);
    expect(tlsOnly.sessions.at(-1)).toMatchObject({ alpn: 'h2' });
  });

  it('fails with one clear line on a wrong CA, and on a plain connection', async () => {
    const wrong = await list(tlsOnly.address, { VLDM_TEMPORAL_TLS_CA_FILE: files.wrongCa });
    expect(wrong.code).toBe(2);
    expect(vldmLines(wrong.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^vldm: TLS with the Temporal server at ${tlsOnly.address} failed \\(.*\\): the server's certificate is not signed by VLDM_TEMPORAL_TLS_CA_FILE`,
        ),
      ),
    ]);
    expect(tlsOnly.refused.length).toBeGreaterThan(0);

    const plain = await list(tlsOnly.address, {});
    expect(plain.code).toBe(2);
    expect(vldmLines(plain.stderr)).toEqual([
      `vldm: the Temporal server at ${tlsOnly.address} speaks TLS and vldm connected without it: set VLDM_TEMPORAL_TLS_CA_FILE (or VLDM_TEMPORAL_TLS=true for a publicly signed certificate)`,
    ]);
  });
});

describe('Temporal over mTLS (client certificate required)', () => {
  const mtlsEnv = () => ({
    VLDM_TEMPORAL_TLS_CA_FILE: files.ca,
    VLDM_TEMPORAL_TLS_CERT_FILE: files.client.cert,
    VLDM_TEMPORAL_TLS_KEY_FILE: files.client.key,
    VLDM_TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
  });

  it('a vldm worker and client run a whole job through it', async () => {
    const store = ['--store', path.join(dir, 'artifacts'), '--pack', CONTRACT_PACK, '--nats', 'off'];
    const env = {
      VLDM_TEMPORAL_ADDRESS: mtls.address,
      VLDM_TEMPORAL_NAMESPACE: temporal.namespace,
      ...mtlsEnv(),
    };
    const worker = await startCli(
      ['worker', '--queues', 'all', ...store, '--state-dir', testStateDir(), '--grace-seconds', '2'],
      env,
      /vldm worker ready/,
    );
    try {
      const name = `tls-${process.pid}`;
      const job = ['--seconds', '2', '--scene', 'night', '--seed', '11', '--name', name];
      const sub = await runCli(['submit', ...job, ...store, '--json'], env);
      expect(sub.code, sub.stderr).toBe(0);
      const { jobId } = JSON.parse(sub.stdout) as { jobId: string };
      const watched = await runCli(['watch', jobId, ...store, '--json'], env);
      expect(watched.code, watched.stderr).toBe(0);
      expect(JSON.parse(watched.stdout)).toMatchObject({ jobId, status: 'COMPLETED' });
    } finally {
      const exited = new Promise((r) => worker.child.once('exit', r));
      worker.child.kill('SIGTERM');
      await exited;
    }
    // Every session the endpoint accepted (worker, submit, watch) presented the client certificate.
    expect(mtls.sessions.length).toBeGreaterThanOrEqual(3);
    for (const s of mtls.sessions)
      expect(s).toMatchObject({ authorized: true, clientCn: 'vldm-client', alpn: 'h2' });
  });

  it('fails with one clear line without a client certificate, with one from another CA, or with the wrong server name', async () => {
    const failure = async (env: NodeJS.ProcessEnv) => {
      const r = await list(mtls.address, env);
      expect(r.code).toBe(2);
      const lines = vldmLines(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`vldm: TLS with the Temporal server at ${mtls.address} failed (`);
      return lines[0];
    };
    const refusedBefore = mtls.refused.length;
    const { VLDM_TEMPORAL_TLS_CERT_FILE: _c, VLDM_TEMPORAL_TLS_KEY_FILE: _k, ...noCert } = mtlsEnv();
    expect(await failure(noCert)).toMatch(
      /certificate required.*: the server requires a client certificate: set VLDM_TEMPORAL_TLS_CERT_FILE and VLDM_TEMPORAL_TLS_KEY_FILE$/,
    );
    const stray = {
      VLDM_TEMPORAL_TLS_CERT_FILE: files.strayClient.cert,
      VLDM_TEMPORAL_TLS_KEY_FILE: files.strayClient.key,
    };
    expect(await failure({ ...mtlsEnv(), ...stray })).toMatch(
      /: the server refused the client certificate \(VLDM_TEMPORAL_TLS_CERT_FILE\)/,
    );
    expect(mtls.refused.length).toBeGreaterThanOrEqual(refusedBefore + 2);
    const { VLDM_TEMPORAL_TLS_SERVER_NAME: _n, ...noName } = mtlsEnv();
    expect(await failure(noName)).toMatch(
      /: the server's certificate does not name this host: set VLDM_TEMPORAL_TLS_SERVER_NAME to a name it carries$/,
    );
  });
});

describe('TLS settings', () => {
  it('are checked before anything connects', () => {
    expect(() => temporalTlsFromEnv({ VLDM_TEMPORAL_TLS_CERT_FILE: files.client.cert })).toThrow(
      /VLDM_TEMPORAL_TLS_CERT_FILE and VLDM_TEMPORAL_TLS_KEY_FILE must be set together/,
    );
    expect(() => temporalTlsFromEnv({ VLDM_TEMPORAL_TLS_CA_FILE: '/nonexistent/ca.pem' })).toThrow(UserError);
    expect(() => temporalTlsFromEnv({ VLDM_TEMPORAL_TLS_CA_FILE: '/nonexistent/ca.pem' })).toThrow(
      'VLDM_TEMPORAL_TLS_CA_FILE "/nonexistent/ca.pem" does not exist',
    );
    expect(temporalTlsFromEnv({})).toBeUndefined();
    expect(temporalTlsFromEnv({ VLDM_TEMPORAL_TLS: 'true' })).toEqual({});
    // One set of spellings, any case; anything else is refused rather than read as "off".
    for (const on of ['TRUE', '1', 'yes', 'On'])
      expect(temporalTlsFromEnv({ VLDM_TEMPORAL_TLS: on })).toEqual({});
    for (const off of ['false', '0', 'NO', 'off'])
      expect(temporalTlsFromEnv({ VLDM_TEMPORAL_TLS: off })).toBeUndefined();
    expect(() => temporalTlsFromEnv({ VLDM_TEMPORAL_TLS: 'enabled' })).toThrow(
      'VLDM_TEMPORAL_TLS must be one of true/1/yes/on/false/0/no/off, got "enabled"',
    );
    expect(() =>
      temporalTlsFromEnv({ VLDM_TEMPORAL_TLS: 'off', VLDM_TEMPORAL_TLS_CA_FILE: files.ca }),
    ).toThrow(/VLDM_TEMPORAL_TLS is off but VLDM_TEMPORAL_TLS_CA_FILE ask for TLS/);
  });
});
