/**
 * NATS credentials against real nats-servers that require them, one per method, started by this file
 * on their own ports: user and password (from VLDM_NATS_USER/PASSWORD or the URL's user info), a
 * token, and a credentials file (JWT + NKey seed, a server in operator mode). Right credentials carry
 * progress events from a publisher to a watcher; wrong or missing ones give a clear warning and a null
 * bus, and no warning, error message or `vldm worker` log line holds a secret.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nkeys } from 'nats';

import { UserError } from '../../src/common/errors';
import { resolveConfig } from '../../src/config/config';
import { requireTool, TOOL_NAMES } from '../../src/dev/tools';
import {
  connectEventBus,
  NatsEventBus,
  NullEventBus,
  progressEvent,
  subscribeProgress,
  type EventBus,
  type ProgressEvent,
} from '../../src/events';
import { runCli, startCli } from '../support/cli';
import { testServers, testStateDir } from '../support/servers';
import { freePort, until } from '../support/wait';

type KeyPair = ReturnType<typeof nkeys.createUser>;

/** Resolves once the server on `port` greets with INFO (its protocol's first line; needs no credentials). */
async function greets(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('INFO '));
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server on port ${port} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface AuthServer {
  url: string;
  port: number;
  monitorPort: number;
  stop(): Promise<void>;
}

async function startNats(args: string[]): Promise<AuthServer> {
  const port = await freePort();
  const monitorPort = await freePort();
  const child: ChildProcess = spawn(
    requireTool(TOOL_NAMES.natsServer),
    ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), ...args],
    { stdio: 'ignore' },
  );
  await greets(port);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorPort,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Publishes one event through `bus` and returns what a watcher subscribed with `env` received. */
async function roundTrip(url: string, bus: EventBus, env: NodeJS.ProcessEnv, jobId: string) {
  const got: ProgressEvent[] = [];
  const sub = await subscribeProgress(url, jobId, (e) => got.push(e), { env });
  expect(sub, 'the watcher connected').toBeDefined();
  const sent = progressEvent({ jobId, stage: 'upscale', segment: 1, tile: 3, state: 'progress' });
  bus.publish(sent);
  await until(`the event of ${jobId}`, () => got.length === 1);
  await sub!.close();
  return { sent, got };
}

/** Connects a bus and a watcher with `env`; both must be refused, with messages free of `secrets`. */
async function expectRefused(url: string, env: NodeJS.ProcessEnv, secrets: string[]): Promise<string[]> {
  const warnings: string[] = [];
  const bus = await connectEventBus(url, { env, warn: (m) => warnings.push(m), timeoutMs: 2_000 });
  expect(bus).toBeInstanceOf(NullEventBus);
  const sub = await subscribeProgress(url, 'refused', () => undefined, {
    env,
    warn: (m) => warnings.push(m),
    timeoutMs: 2_000,
  });
  expect(sub).toBeUndefined();
  expect(warnings).toHaveLength(2);
  for (const w of warnings) {
    expect(w).toMatch(/refused the connection \(.*Authorization Violation.*\)/i);
    for (const s of secrets) expect(w.includes(s), `"${w}" holds a secret`).toBe(false);
  }
  return warnings;
}

/** The connections a server sees, with the user each authenticated as (nats-server monitoring). */
async function connections(monitorPort: number): Promise<Array<{ name?: string; authorized_user?: string }>> {
  const res = await fetch(`http://127.0.0.1:${monitorPort}/connz?auth=true`);
  return (
    ((await res.json()) as { connections?: Array<{ name?: string; authorized_user?: string }> })
      .connections ?? []
  );
}

describe('NATS with a user and a password', () => {
  const user = 'vldm-events';
  // Characters that must be percent-encoded in a URL, so the URL form is tested for real.
  const pass = `p@ss:w/rd%${randomBytes(8).toString('hex')}`;
  let server: AuthServer;
  beforeAll(async () => {
    server = await startNats(['--user', user, '--pass', pass]);
  });
  afterAll(async () => server?.stop());

  it('publishes and subscribes with VLDM_NATS_USER and VLDM_NATS_PASSWORD', async () => {
    const env = { VLDM_NATS_USER: user, VLDM_NATS_PASSWORD: pass };
    const bus = await connectEventBus(server.url, { env, name: 'vldm-auth-test' });
    expect(bus).toBeInstanceOf(NatsEventBus);
    const conns = await connections(server.monitorPort);
    expect(conns.find((c) => c.name === 'vldm-auth-test')?.authorized_user).toBe(user);
    const { sent, got } = await roundTrip(server.url, bus, env, 'auth-user');
    expect(got).toEqual([sent]);
    await bus.close();
  });

  it('takes them from the URL user info, percent-encoded', async () => {
    const url = `nats://${user}:${encodeURIComponent(pass)}@127.0.0.1:${server.port}`;
    const bus = await connectEventBus(url, { env: {} });
    expect(bus).toBeInstanceOf(NatsEventBus);
    const { sent, got } = await roundTrip(url, bus, {}, 'auth-url');
    expect(got).toEqual([sent]);
    await bus.close();
  });

  it('refuses a wrong password or none, saying so without the secret', async () => {
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const [w] = await expectRefused(server.url, { VLDM_NATS_USER: user, VLDM_NATS_PASSWORD: wrong }, [
      wrong,
      pass,
    ]);
    expect(w).toContain(`NATS at ${server.url} refused`);
    expect(w).toMatch(/check the user and password/);
    const viaUrl = `nats://${user}:${wrong}@127.0.0.1:${server.port}`;
    const [u] = await expectRefused(viaUrl, {}, [wrong]);
    expect(u).toContain(`nats://***@127.0.0.1:${server.port}`);
    const [none] = await expectRefused(server.url, {}, []);
    expect(none).toMatch(/no credentials were given \(set VLDM_NATS_USER\/VLDM_NATS_PASSWORD/);
  });

  it('reports a lost connection without the credentials', async () => {
    const url = `nats://${user}:${encodeURIComponent(pass)}@127.0.0.1:${server.port}`;
    const warnings: string[] = [];
    const bus = (await connectEventBus(url, { env: {}, warn: (m) => warnings.push(m) })) as NatsEventBus;
    expect(bus).toBeInstanceOf(NatsEventBus);
    await server.stop();
    await until('the bus to notice', () => !bus.connected);
    expect(warnings.some((w) => /lost; progress events are dropped/.test(w))).toBe(true);
    for (const w of warnings) {
      expect(w).not.toContain(pass);
      expect(w).not.toContain(encodeURIComponent(pass));
    }
    await bus.close();
  });
});

describe('NATS with a token', () => {
  const token = `tok-${randomBytes(12).toString('hex')}`;
  let server: AuthServer;
  beforeAll(async () => {
    server = await startNats(['--auth', token]);
  });
  afterAll(async () => server?.stop());

  it('publishes and subscribes with VLDM_NATS_TOKEN, and with the token as URL user info', async () => {
    const env = { VLDM_NATS_TOKEN: token };
    const bus = await connectEventBus(server.url, { env });
    expect(bus).toBeInstanceOf(NatsEventBus);
    const { sent, got } = await roundTrip(server.url, bus, env, 'auth-token');
    expect(got).toEqual([sent]);
    await bus.close();
    const url = `nats://${token}@127.0.0.1:${server.port}`;
    const viaUrl = await connectEventBus(url, { env: {} });
    expect(viaUrl).toBeInstanceOf(NatsEventBus);
    await viaUrl.close();
  });

  it('refuses a wrong token without printing it', async () => {
    const wrong = `tok-${randomBytes(12).toString('hex')}`;
    const [w] = await expectRefused(server.url, { VLDM_NATS_TOKEN: wrong }, [wrong, token]);
    expect(w).toMatch(/check the token/);
  });
});

/** A NATS JWT: header and claims in base64url, signed (ed25519) by the issuer's NKey. */
function natsJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const b64u = (x: string | Uint8Array) => Buffer.from(x).toString('base64url');
  const head = b64u(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const claims = b64u(
    JSON.stringify({
      jti: randomBytes(16).toString('hex').toUpperCase(),
      iat: Math.floor(Date.now() / 1000),
      iss: issuer.getPublicKey(),
      sub: subject,
      name,
      nats: { ...nats, version: 2 },
    }),
  );
  return `${head}.${claims}.${b64u(issuer.sign(new TextEncoder().encode(`${head}.${claims}`)))}`;
}

function credsFile(dir: string, name: string, account: KeyPair): { file: string; seed: string; jwt: string } {
  const user = nkeys.createUser();
  const jwt = natsJwt(account, user.getPublicKey(), name, {
    type: 'user',
    pub: {},
    sub: {},
    subs: -1,
    data: -1,
    payload: -1,
  });
  const seed = Buffer.from(user.getSeed()).toString();
  const file = path.join(dir, `${name}.creds`);
  writeFileSync(
    file,
    `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
      `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
    { mode: 0o600 },
  );
  return { file, seed, jwt };
}

describe('NATS with a credentials file (operator mode)', () => {
  let server: AuthServer;
  let dir: string;
  let account: KeyPair;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vldm-nats-creds-'));
    const operator = nkeys.createOperator();
    account = nkeys.createAccount();
    const limits = {
      subs: -1,
      data: -1,
      payload: -1,
      imports: -1,
      exports: -1,
      wildcards: true,
      conn: -1,
      leaf: -1,
    };
    const accountJwt = natsJwt(operator, account.getPublicKey(), 'vldm', { type: 'account', limits });
    writeFileSync(
      path.join(dir, 'operator.jwt'),
      natsJwt(operator, operator.getPublicKey(), 'test', { type: 'operator' }),
    );
    const conf = path.join(dir, 'server.conf');
    writeFileSync(
      conf,
      `operator: ${path.join(dir, 'operator.jwt')}\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: ${accountJwt}\n}\n`,
    );
    server = await startNats(['-c', conf]);
  });
  afterAll(async () => server?.stop());

  it('publishes and subscribes with VLDM_NATS_CREDS_FILE', async () => {
    const env = { VLDM_NATS_CREDS_FILE: credsFile(dir, 'good', account).file };
    const bus = await connectEventBus(server.url, { env });
    expect(bus).toBeInstanceOf(NatsEventBus);
    const { sent, got } = await roundTrip(server.url, bus, env, 'auth-creds');
    expect(got).toEqual([sent]);
    await bus.close();
  });

  it('refuses a user of an account the server does not trust, without printing the seed or JWT', async () => {
    const stranger = credsFile(dir, 'stranger', nkeys.createAccount());
    const [w] = await expectRefused(server.url, { VLDM_NATS_CREDS_FILE: stranger.file }, [
      stranger.seed,
      stranger.jwt,
    ]);
    expect(w).toContain(`check the credentials file ${stranger.file}`);
  });
});

describe('badly configured NATS credentials', () => {
  const base = { VLDM_NATS_URL: 'nats://127.0.0.1:4222' };

  it('stop configuration with a clear error that holds no secret', () => {
    const err = (env: NodeJS.ProcessEnv, flags = {}) => {
      try {
        resolveConfig(flags, env, os.tmpdir());
      } catch (e) {
        expect(e).toBeInstanceOf(UserError);
        return (e as Error).message;
      }
      throw new Error('resolveConfig accepted it');
    };
    expect(err({ ...base, VLDM_NATS_USER: 'u' })).toBe(
      'set both VLDM_NATS_USER and VLDM_NATS_PASSWORD, or neither',
    );
    const twoWays = err({ VLDM_NATS_URL: 'nats://u:hunter2@127.0.0.1:4222', VLDM_NATS_TOKEN: 's3cret' });
    expect(twoWays).toMatch(/configured 2 ways \(user, token\)/);
    expect(twoWays).not.toMatch(/hunter2|s3cret/);
    expect(err({ ...base, VLDM_NATS_CREDS_FILE: '/nonexistent/x.creds' })).toBe(
      'VLDM_NATS_CREDS_FILE "/nonexistent/x.creds" does not exist',
    );
    const notCreds = path.join(mkdtempSync(path.join(os.tmpdir(), 'vldm-nats-bad-')), 'x.creds');
    writeFileSync(notCreds, 'SUAEXAMPLESEEDTHATMUSTNOTBEPRINTED\n');
    const bad = err({ ...base, VLDM_NATS_CREDS_FILE: notCreds });
    expect(bad).toMatch(/is not a NATS credentials file/);
    expect(bad).not.toContain('SUAEXAMPLE');
    const badUrl = err({}, { natsUrl: 'http://u:hunter2@127.0.0.1:4222' });
    expect(badUrl).toContain('http://***@127.0.0.1:4222');
    expect(badUrl).not.toContain('hunter2');
    // Off means off: credentials for a disabled NATS are not checked.
    expect(resolveConfig({}, { VLDM_NATS_URL: 'off', VLDM_NATS_USER: 'u' }, os.tmpdir()).natsUrl).toBe('off');
  });

  it('make vldm exit 2 with that one line', async () => {
    const r = await runCli(['plan', '--seconds', '2', '--json'], {
      VLDM_NATS_URL: 'nats://u:hunter2@127.0.0.1:4222',
      VLDM_NATS_PASSWORD: 'pw-in-env',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/set both VLDM_NATS_USER and VLDM_NATS_PASSWORD, or neither/);
    expect(r.stderr + r.stdout).not.toMatch(/hunter2|pw-in-env/);
  });
});

describe('vldm worker against a NATS server that requires a password', () => {
  const user = 'vldm-worker';
  const pass = `pw-${randomBytes(8).toString('hex')}`;
  let server: AuthServer;
  let temporal: { address: string; namespace: string };
  beforeAll(async () => {
    server = await startNats(['--user', user, '--pass', pass]);
    const servers = await testServers({ kinds: ['temporal'] });
    temporal = servers.temporal!;
  });
  afterAll(async () => server?.stop());

  const startWorker = (natsUrl: string, env: NodeJS.ProcessEnv) =>
    startCli(
      ['worker', '--queues', 'media', '--nats', natsUrl, '--state-dir', testStateDir()],
      { VLDM_TEMPORAL_ADDRESS: temporal.address, VLDM_TEMPORAL_NAMESPACE: temporal.namespace, ...env },
      /vldm worker ready/,
    );
  const stop = async (w: Awaited<ReturnType<typeof startWorker>>) => {
    const exited = new Promise((r) => w.child.once('exit', r));
    w.child.kill('SIGTERM');
    await exited;
  };

  it('connects as that user with the right credentials, and logs no secret with wrong ones', async () => {
    const good = await startWorker(server.url, { VLDM_NATS_USER: user, VLDM_NATS_PASSWORD: pass });
    try {
      expect(good.log()).not.toMatch(/progress events disabled/);
      const conns = await connections(server.monitorPort);
      expect(conns.find((c) => c.name === 'vldm-worker')?.authorized_user).toBe(user);
    } finally {
      await stop(good);
    }
    expect(good.log()).not.toContain(pass);

    const wrong = `pw-${randomBytes(8).toString('hex')}`;
    const bad = await startWorker(`nats://${user}:${wrong}@127.0.0.1:${server.port}`, {});
    try {
      expect(bad.log()).toMatch(
        new RegExp(
          `progress events disabled: NATS at nats://\\*\\*\\*@127\\.0\\.0\\.1:${server.port} refused`,
        ),
      );
    } finally {
      await stop(bad);
    }
    expect(bad.log()).not.toContain(wrong);
  });
});
