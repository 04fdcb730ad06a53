/**
 * Payload encryption end to end: the AES-256-GCM codec's own contract (round trip, rotation, unknown
 * key ids, tampering), then a real job with encryption on against the test Temporal server: its raw
 * history, read straight from the server, holds no plaintext of the spec in any payload, and
 * `vldm codec-server` (a separate process) decodes those payloads over HTTP for the Web UI, with CORS
 * for the UI's origin only. A job that fails keeps its error message and stack trace encrypted too
 * (the failure converter encodes them into a payload), and the codec server decodes them: a failure
 * raised in an activity, and one raised in workflow code (which needs the converter bundled in).
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { payloadToJson, type JsonPayload } from '../../src/security/payload-json';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { NativeConnection, Worker } from '@temporalio/worker';
import { QUEUE_ROLES, TASK_QUEUES, segmentWorkflowId } from '../../src/common/names';
import { UserError } from '../../src/common/errors';
import { compileJob } from '../../src/cli/edge';
import { WHOLE_VIDEO_RENDER_PATCH } from '../../src/planning/render-plan';
import { CHILD_SEARCH_ATTRIBUTES_PATCH } from '../../src/common/search-attributes';
import { connectTemporal, startJob, waitForJob } from '../../src/client/jobs';
import { startWorkers, type RunningWorkers } from '../../src/worker/workers';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  keyringFromEnv,
  parseKeyEntries,
  PayloadDecryptionError,
} from '../../src/security';
import { dataConverterWith } from '../../src/security';
import {
  CORS_ALLOWED_HEADERS,
  startCodecServer,
  type RunningCodecServer,
} from '../../src/security/codec-server';
import { loadPack } from '../../src/models/pack';
import { summarisePack } from '../../src/activity-runtime/model-cache';
import type { PrepareOutput } from '../../src/common/boundary';
import { CONTRACT_PACK, startDeployment, type TestDeployment } from '../support/pipeline';
import { runCli, startCli } from '../support/cli';
import { testStateDir } from '../support/servers';

const b64 = () => randomBytes(32).toString('base64');
/** The codec server's bearer token in these tests, and the header that carries it. */
const TOKEN = `tok-${randomBytes(16).toString('hex')}`;
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const K1 = `k1:${b64()}`;
const K2 = `k2:${b64()}`;
const utf8 = new TextEncoder();
const text = (u: Uint8Array | null | undefined) => Buffer.from(u ?? new Uint8Array()).toString('utf8');
const jsonPayload = (value: unknown): Payload => ({
  metadata: { encoding: utf8.encode('json/plain') },
  data: utf8.encode(JSON.stringify(value)),
});

describe('the AES-256-GCM payload codec', () => {
  const both = new AesGcmPayloadCodec(parseKeyEntries([K1, K2], 'test keys'));
  const oldOnly = new AesGcmPayloadCodec(parseKeyEntries([K1], 'old keys'));

  it('round-trips payloads, encrypting with the newest key and a fresh IV each time', async () => {
    const p = jsonPayload({ name: 'secret-job-name' });
    const [a, b] = await both.encode([p, p]);
    expect(text(a.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(a.metadata![KEY_ID_METADATA])).toBe('k2');
    expect(text(a.data)).not.toContain('secret-job-name');
    expect(Buffer.from(a.data!).equals(Buffer.from(b.data!))).toBe(false);
    const [d] = await both.decode([a]);
    expect(text(d.data)).toBe(JSON.stringify({ name: 'secret-job-name' }));
    expect(text(d.metadata!.encoding)).toBe('json/plain');
  });

  it('decrypts payloads of an older key after rotation, and passes unencrypted payloads through', async () => {
    const [old] = await oldOnly.encode([jsonPayload(1)]);
    expect(text(old.metadata![KEY_ID_METADATA])).toBe('k1');
    const plain = jsonPayload(2);
    const [d1, d2] = await both.decode([old, plain]);
    expect(text(d1.data)).toBe('1');
    expect(d2).toBe(plain);
  });

  it('names the unknown key id, and rejects a tampered payload or a different key under the same id', async () => {
    const [newer] = await both.encode([jsonPayload(3)]);
    await expect(oldOnly.decode([newer])).rejects.toThrow(
      /key id "k2", which old keys does not hold \(known: k1\)/,
    );
    const tampered = { ...newer, data: Uint8Array.from(newer.data!) };
    tampered.data[20] ^= 1;
    await expect(both.decode([tampered])).rejects.toThrow(PayloadDecryptionError);
    const impostor = new AesGcmPayloadCodec(parseKeyEntries([`k2:${b64()}`], 'other keys'));
    await expect(impostor.decode([newer])).rejects.toThrow(/failed authentication with key "k2"/);
  });

  it('reads a key file (comments, blank lines; the last key encrypts)', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'vldm-keys-')), 'keys');
    writeFileSync(file, `# rotated 2026-06\n${K1}\n\n${K2}\n`, { mode: 0o600 });
    const ring = keyringFromEnv({ VLDM_CODEC_KEY_FILE: file })!;
    expect(ring.current.id).toBe('k2');
    expect([...ring.byId.keys()]).toEqual(['k1', 'k2']);
  });

  it('refuses badly written keys with what is allowed', () => {
    expect(() => keyringFromEnv({ VLDM_CODEC_KEYS: 'k1:c2hvcnQ=' })).toThrow(
      /key "k1" is 5 bytes, AES-256-GCM needs exactly 32/,
    );
    expect(() => keyringFromEnv({ VLDM_CODEC_KEYS: `${K1},${K1}` })).toThrow(/listed twice/);
    expect(() => keyringFromEnv({ VLDM_CODEC_KEYS: `bad id:${b64()}` })).toThrow(/key id must be/);
    expect(() => keyringFromEnv({ VLDM_CODEC_KEYS: K1, VLDM_CODEC_KEY_FILE: '/x' })).toThrow(UserError);
    expect(() => keyringFromEnv({ VLDM_CODEC_KEY_FILE: '/nonexistent/keys' })).toThrow(
      /VLDM_CODEC_KEY_FILE "\/nonexistent\/keys" does not exist/,
    );
    expect(keyringFromEnv({})).toBeUndefined();
  });
});

/**
 * Every payload in a raw history event, with the path to it. Two kinds stay plaintext by design:
 * search attributes (the server indexes them), and the details of a patch marker (`patched()` in
 * workflows/job.ts), which the SDK's core writes itself, past the payload codec; they hold only the
 * patch id and a flag, which `patchMarkerDetails` checks.
 */
function payloadsIn(value: unknown, path = ''): Array<{ path: string; payload: Payload }> {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return [];
  const o = value as Record<string, unknown>;
  if (o.markerName === PATCH_MARKER) return [];
  if (o.data instanceof Uint8Array && typeof o.metadata === 'object' && o.metadata !== null)
    return [{ path, payload: o as Payload }];
  return Object.entries(o).flatMap(([k, v]) =>
    k === 'searchAttributes' ? [] : payloadsIn(v, `${path}.${k}`),
  );
}

const PATCH_MARKER = 'core_patch';

/** The plaintext details of every patch marker in a raw history, decoded. */
function patchMarkerDetails(events: unknown[]): unknown[] {
  return events.flatMap((e) => {
    const m = (
      e as {
        markerRecordedEventAttributes?: {
          markerName?: string;
          details?: Record<string, { payloads?: Payload[] }>;
        };
      }
    ).markerRecordedEventAttributes;
    if (m?.markerName !== PATCH_MARKER) return [];
    return Object.entries(m.details ?? {}).flatMap(([k, v]) =>
      (v.payloads ?? []).map((p) => ({ [k]: JSON.parse(text(p.data)) as unknown })),
    );
  });
}

/** Paths of every string or byte field of a raw history that holds `marker` in plain text. */
function plaintextHits(events: unknown[], marker: string): string[] {
  const hits: string[] = [];
  const scan = (v: unknown, at: string): void => {
    if (typeof v === 'string' && v.includes(marker)) hits.push(at);
    else if (v instanceof Uint8Array && Buffer.from(v).includes(marker)) hits.push(at);
    else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array))
      for (const [k, x] of Object.entries(v)) scan(x, `${at}.${k}`);
  };
  events.forEach((e, i) => scan(e, `events[${i}]`));
  return hits;
}

describe('a job with payload encryption on', () => {
  const keysEnv = { VLDM_CODEC_KEYS: `${K1},${K2}`, VLDM_CODEC_SERVER_TOKEN: TOKEN };
  const codec = new AesGcmPayloadCodec(parseKeyEntries([K1, K2], 'test keys'));
  let d: TestDeployment;
  let workers: RunningWorkers;
  let client: Awaited<ReturnType<typeof connectTemporal>>;
  let codecServer: { child: ChildProcess; log: () => string } | undefined;
  const flags = { seconds: '2', scene: 'night', seed: '3', name: `codec-secret-${process.pid}` };
  let jobId: string;
  let startedInput: Payload[];
  let uiOrigin: string;
  let codecBase: string;

  beforeAll(async () => {
    d = await startDeployment('vldm-codec', { workers: false });
    const t = d.servers.temporal!;
    uiOrigin = t.uiUrl;
    workers = await startWorkers({
      temporalAddress: t.address,
      namespace: t.namespace,
      queues: [...QUEUE_ROLES],
      store: d.store,
      events: d.events,
      warmPack: CONTRACT_PACK,
      scratchDir: d.scratch,
      payloadCodec: codec,
    });
    client = await connectTemporal(t.address, t.namespace, { payloadCodec: codec });
  });
  afterAll(async () => {
    if (codecServer) {
      codecServer.child.kill('SIGTERM');
      await once(codecServer.child, 'exit');
    }
    await client?.connection.close();
    await workers?.shutdown();
    await d?.close();
  });

  it('runs, and the raw histories (job and segment) hold only ciphertext payloads', async () => {
    const { spec } = await compileJob(flags, CONTRACT_PACK);
    jobId = spec.jobId;
    await startJob(client, spec);
    const result = await waitForJob(client, spec.jobId);
    expect(result.frames).toBe(48);

    const secrets = [spec.name, spec.pack, result.sha256, result.outputKey];
    for (const wf of [spec.jobId, segmentWorkflowId(spec.jobId, 0)]) {
      const history = await client.workflow.getHandle(wf).fetchHistory();
      const found = (history.events ?? []).flatMap((e) => payloadsIn(e));
      expect(found.length, wf).toBeGreaterThan(10);
      // The only plaintext the job's history may hold: its patch markers (the whole-video render, and
      // the search attributes and static details of the children it starts).
      expect(patchMarkerDetails(history.events ?? []), wf).toEqual(
        wf === spec.jobId
          ? [WHOLE_VIDEO_RENDER_PATCH, CHILD_SEARCH_ATTRIBUTES_PATCH].map((id) => ({
              'patch-data': { id, deprecated: false },
            }))
          : [],
      );
      for (const { path, payload } of found) {
        expect(text(payload.metadata!.encoding), `${wf}${path}`).toBe(ENCRYPTED_ENCODING);
        for (const s of secrets)
          expect(text(payload.data).includes(s), `${wf}${path} holds "${s}"`).toBe(false);
      }
      if (wf === spec.jobId)
        startedInput = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads!;
    }
    // The same search on the decrypted input finds the spec: the check above could fail.
    const [decoded] = await codec.decode(startedInput);
    expect(JSON.parse(text(decoded.data))).toMatchObject({ name: spec.name, pack: spec.pack });

    // A client without the keys cannot read the result.
    const blind = await connectTemporal(d.servers.temporal!.address, d.servers.temporal!.namespace, {
      payloadCodec: { encode: async (p) => p, decode: async (p) => p },
    });
    try {
      await expect(blind.workflow.getHandle(spec.jobId).result()).rejects.toThrow(/binary\/encrypted/);
    } finally {
      await blind.connection.close();
    }
  });

  it('vldm codec-server decodes those payloads for the Web UI, with CORS for its origin only', async () => {
    expect(startedInput).toBeDefined();
    codecServer = await startCli(
      ['codec-server', '--port', '0', '--ui-origin', uiOrigin, '--state-dir', testStateDir()],
      keysEnv,
      /codec-server ready: (http:\/\/\S+)/,
    );
    const base = /codec-server ready: (http:\/\/\S+)/.exec(codecServer.log())![1];
    codecBase = base;

    const pre = await fetch(`${base}/decode`, {
      method: 'OPTIONS',
      headers: {
        Origin: uiOrigin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'x-namespace,content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    expect(pre.headers.get('access-control-allow-headers')).toBe(CORS_ALLOWED_HEADERS);
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/POST/);
    const foreign = await fetch(`${base}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();

    // What the UI sends: the raw payloads as protobuf JSON, the namespace in X-Namespace.
    const body = JSON.stringify({ payloads: startedInput.map((p) => payloadToJson(p)) });
    const res = await fetch(`${base}/api/v1/namespaces/default/decode`, {
      method: 'POST',
      headers: { ...AUTH, Origin: uiOrigin, 'Content-Type': 'application/json', 'X-Namespace': 'default' },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    const out = (await res.json()) as { payloads: JsonPayload[] };
    expect(Buffer.from(out.payloads[0].metadata!.encoding!, 'base64').toString()).toBe('json/plain');
    const spec = JSON.parse(Buffer.from(out.payloads[0].data!, 'base64').toString()) as {
      jobId: string;
      name: string;
    };
    expect(spec.jobId).toBe(jobId);
    expect(spec.name).toBe(flags.name);

    // /encode gives ciphertext under the newest key, which decodes back.
    const enc = (await (
      await fetch(`${base}/encode`, {
        method: 'POST',
        headers: AUTH,
        body: JSON.stringify({ payloads: out.payloads }),
      })
    ).json()) as { payloads: JsonPayload[] };
    expect(Buffer.from(enc.payloads[0].metadata![KEY_ID_METADATA]!, 'base64').toString()).toBe('k2');
    const back = (await (
      await fetch(`${base}/decode`, { method: 'POST', headers: AUTH, body: JSON.stringify(enc) })
    ).json()) as { payloads: JsonPayload[] };
    expect(back.payloads[0].data).toBe(out.payloads[0].data);

    const bad = await fetch(`${base}/decode`, { method: 'POST', headers: AUTH, body: 'not json' });
    expect(bad.status).toBe(400);
  });
  it('a failing job keeps its error message and stack trace encrypted, and the codec server decodes them', async () => {
    expect(codecBase).toBeDefined();
    // The marker is in the pack's path, so the prepare activity's error message names it.
    const marker = `failure-marker-${randomBytes(6).toString('hex')}`;
    const pack = path.join(mkdtempSync(path.join(os.tmpdir(), 'vldm-codec-pack-')), marker);
    cpSync(CONTRACT_PACK, pack, { recursive: true });
    const { spec } = await compileJob({ ...flags, name: `codec-fail-${process.pid}` }, pack);
    rmSync(path.join(pack, 'vldm-pack.json')); // breaks the pack after the edge accepted it
    await startJob(client, spec);

    // With the keys, the client sees the real message (so the marker really is in the failure).
    const err = await waitForJob(client, spec.jobId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const activityFailure = (err as WorkflowFailedError).cause;
    expect(activityFailure).toBeInstanceOf(ActivityFailure);
    const appFailure = (activityFailure as ActivityFailure).cause as ApplicationFailure;
    expect(appFailure).toBeInstanceOf(ApplicationFailure);
    expect(appFailure.message).toContain(marker);
    expect(appFailure.message).toMatch(/breaks the model contract/);
    expect(appFailure.type).toBe('VldmContractViolation');

    // The raw history: no string or byte field anywhere holds the marker.
    const history = await client.workflow.getHandle(spec.jobId).fetchHistory();
    const events = history.events ?? [];
    expect(plaintextHits(events, marker)).toEqual([]);

    // The failures are there, with the SDK's placeholder message and encrypted attributes.
    const activityFailed = events.find((e) => e.activityTaskFailedEventAttributes);
    const failure = activityFailed?.activityTaskFailedEventAttributes?.failure;
    expect(failure?.message).toBe('Encoded failure');
    expect(failure?.stackTrace ?? '').toBe('');
    const encoded = failure!.encodedAttributes!;
    expect(text(encoded.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    const wfFailed = events.find((e) => e.workflowExecutionFailedEventAttributes);
    const wfCause = wfFailed?.workflowExecutionFailedEventAttributes?.failure?.cause;
    expect(wfCause?.message).toBe('Encoded failure');
    expect(text(wfCause?.encodedAttributes?.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);

    // The codec server (what the Web UI calls) decodes the message and the stack trace.
    const res = await fetch(`${codecBase}/decode`, {
      method: 'POST',
      headers: AUTH,
      body: JSON.stringify({ payloads: [payloadToJson(encoded)] }),
    });
    expect(res.status).toBe(200);
    const out = (await res.json()) as { payloads: JsonPayload[] };
    const attrs = JSON.parse(Buffer.from(out.payloads[0].data!, 'base64').toString()) as {
      message: string;
      stack_trace: string;
    };
    expect(attrs.message).toContain(marker);
    expect(attrs.stack_trace).toMatch(/ContractError|prepareJob|at /);
  });
  it('a failure raised in workflow code is encrypted too (the failure converter is bundled into the workflows)', async () => {
    // vldm's own prepare activity never lets a pack through that the workflow's planner rejects, so a
    // stand-in prepare activity (on the real media queue, same codec) returns a summary that breaks
    // planning: the workflow itself then fails the job with a message naming the pack.
    await workers.shutdown();
    workers = await startWorkers({
      temporalAddress: d.servers.temporal!.address,
      namespace: d.servers.temporal!.namespace,
      queues: ['orchestration'],
      store: d.store,
      events: d.events,
      scratchDir: d.scratch,
      payloadCodec: codec,
    });
    const marker = `workflow-marker-${randomBytes(6).toString('hex')}`;
    const real = summarisePack(await loadPack(CONTRACT_PACK), CONTRACT_PACK);
    const broken = { ...real, name: marker, windows: { ...real.windows, keyframe: { frames: 1 } } };
    const connection = await NativeConnection.connect({ address: d.servers.temporal!.address });
    const standIn = await Worker.create({
      connection,
      namespace: d.servers.temporal!.namespace,
      taskQueue: TASK_QUEUES.media,
      dataConverter: dataConverterWith(codec),
      activities: {
        prepareJob: async (): Promise<PrepareOutput> => ({ key: 'stand-in', reused: false, pack: broken }),
      },
    });
    const running = standIn.run();
    try {
      const { spec } = await compileJob({ ...flags, name: `codec-wf-fail-${process.pid}` }, CONTRACT_PACK);
      await startJob(client, spec);
      const err = await waitForJob(client, spec.jobId).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause.type).toBe('VldmBadInput');
      expect(cause.message).toContain(`model pack ${marker}: windows.keyframe.frames must be an integer`);

      const events = (await client.workflow.getHandle(spec.jobId).fetchHistory()).events ?? [];
      expect(plaintextHits(events, marker)).toEqual([]);
      const failed = events.find((e) => e.workflowExecutionFailedEventAttributes);
      const failure = failed?.workflowExecutionFailedEventAttributes?.failure;
      expect(failure?.message).toBe('Encoded failure');
      expect(failure?.applicationFailureInfo?.type).toBe('VldmBadInput');
      const [decoded] = await codec.decode([failure!.encodedAttributes!]);
      expect((JSON.parse(text(decoded.data)) as { message: string }).message).toContain(marker);
    } finally {
      standIn.shutdown();
      await running;
      await connection.close();
    }
  });
});

/**
 * The codec server's own checks (issue 13), on a real HTTP server: a bearer token on every request
 * but the preflight whatever the Origin, answers that name no key, and bounded requests answered
 * with 413 (not a reset). No Temporal needed: the server only holds keys.
 */
describe('the codec server lets in only callers with the token', () => {
  const ring = parseKeyEntries([K1, K2], 'test keys');
  const origin = 'http://127.0.0.1:8233';
  let server: RunningCodecServer;
  let sealed: JsonPayload[];
  beforeAll(async () => {
    server = await startCodecServer({
      codec: new AesGcmPayloadCodec(ring),
      port: 0,
      allowedOrigins: [origin],
      token: TOKEN,
      maxBodyBytes: 1 << 20,
      maxPayloads: 100,
    });
    sealed = (await new AesGcmPayloadCodec(ring).encode([jsonPayload({ secret: 'plans' })])).map((p) =>
      payloadToJson(p),
    );
  });
  afterAll(async () => server?.close());
  const decode = (headers: Record<string, string>, body = JSON.stringify({ payloads: sealed })) =>
    fetch(`${server.url}/decode`, { method: 'POST', headers, body });

  it('refuses a request without a token or with a wrong one, with or without an Origin', async () => {
    const tries: Array<Record<string, string>> = [
      {},
      { Origin: origin },
      { Authorization: 'Bearer wrong-token-wrong-token' },
      { Authorization: `Basic ${TOKEN}` },
      { Authorization: `Bearer ${TOKEN}x` },
      { Origin: origin, Authorization: `Bearer ${TOKEN.slice(0, -1)}` },
    ];
    for (const headers of tries) {
      const res = await decode(headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = await res.text();
      expect(body).not.toMatch(/plans|k1|k2/);
    }
    // /encode would mint ciphertext for anyone: it needs the token too.
    const mint = await fetch(`${server.url}/encode`, {
      method: 'POST',
      body: JSON.stringify({ payloads: [payloadToJson(jsonPayload(1))] }),
    });
    expect(mint.status).toBe(401);
  });

  it('decodes with the right token (from the UI origin, and from no origin: the CLI)', async () => {
    for (const headers of [AUTH, { ...AUTH, Origin: origin }]) {
      const res = await decode(headers);
      expect(res.status).toBe(200);
      const out = (await res.json()) as { payloads: JsonPayload[] };
      expect(JSON.parse(Buffer.from(out.payloads[0].data!, 'base64').toString())).toEqual({
        secret: 'plans',
      });
    }
  });

  it('still answers the UI’s CORS preflight, which carries no credentials', async () => {
    const pre = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
  });

  it('names no key id and no allowed origin in its answers', async () => {
    const unknown = parseKeyEntries([`k9:${b64()}`], 'other');
    const foreign = (await new AesGcmPayloadCodec(unknown).encode([jsonPayload('x')])).map((p) =>
      payloadToJson(p),
    );
    const res = await decode(AUTH, JSON.stringify({ payloads: foreign }));
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).not.toMatch(/k9|k1|k2/);
    const evil = await decode({ ...AUTH, Origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    expect(await evil.text()).not.toContain(origin);
  });

  it('answers a flood of empty payloads with 413 at once', async () => {
    const flood = JSON.stringify({ payloads: new Array(200_000).fill({}) }); // 600 KB, under the body limit
    const t0 = Date.now();
    const res = await decode(AUTH, flood);
    expect(res.status).toBe(413);
    expect(await res.text()).toMatch(/at most 100 payloads per request, got 200000/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('answers a body over the limit with 413, not a connection reset (declared and streamed)', async () => {
    const big = 'x'.repeat(3 << 20);
    const res = await decode(AUTH, big);
    expect(res.status).toBe(413);
    expect(await res.text()).toMatch(/request body over 1048576 bytes/);
    // Without a Content-Length (chunked), the limit is found while reading.
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 3; i++) c.enqueue(new TextEncoder().encode(big.slice(0, 1 << 20)));
        c.close();
      },
    });
    const streamed = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: AUTH,
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    // The server is still there afterwards.
    expect((await decode(AUTH)).status).toBe(200);
  });

  it('vldm codec-server refuses to start without a token, and warns when it listens beyond loopback', async () => {
    const none = await runCli(
      ['codec-server', '--port', '0'],
      { VLDM_CODEC_KEYS: K1, VLDM_CODEC_SERVER_TOKEN: '' },
      30_000,
    );
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /^vldm: the codec server needs a bearer token: set VLDM_CODEC_SERVER_TOKEN or VLDM_CODEC_SERVER_TOKEN_FILE[^\n]*\n$/,
    );
    const short = await runCli(
      ['codec-server', '--port', '0'],
      { VLDM_CODEC_KEYS: K1, VLDM_CODEC_SERVER_TOKEN: 'short' },
      30_000,
    );
    expect(short.code).toBe(2);
    expect(short.stderr).not.toContain('short');
    const wide = await startCli(
      ['codec-server', '--port', '0', '--host', '0.0.0.0'],
      { VLDM_CODEC_KEYS: K1, VLDM_CODEC_SERVER_TOKEN: TOKEN },
      /codec-server ready/,
    );
    try {
      expect(wide.log()).toMatch(/warning: listening on "0\.0\.0\.0", beyond this machine/);
      expect(wide.log()).not.toContain(TOKEN);
    } finally {
      wide.child.kill('SIGTERM');
      await once(wide.child, 'exit');
    }
  });
});
