/**
 * Progress events against a real nats-server: events round-trip to a job's watcher, an unreachable
 * server gives a null bus quickly, and a server that dies mid-job (and comes back) never makes
 * publish throw or block. The shared test server serves the round trips; the outage test runs its own
 * nats-server so that killing it disturbs nobody else.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';

import { UserError } from '../../src/common/errors';
import { SUBJECTS } from '../../src/common/names';
import { requireTool, TOOL_NAMES } from '../../src/dev/tools';
import {
  connectEventBus,
  NatsEventBus,
  NullEventBus,
  ProgressEvent,
  progressEvent,
  subscribeProgress,
} from '../../src/events';
import { testServers } from '../support/servers';
import { freePort, until } from '../support/wait';

let natsUrl: string;

beforeAll(async () => {
  const servers = await testServers({ kinds: ['nats'] });
  if (!servers.nats) throw new Error('testServers() returned no NATS address');
  natsUrl = servers.nats.url;
});

describe('progress events on NATS', () => {
  it('delivers a job’s events to its watcher, in order, and no other job’s', async () => {
    const got: ProgressEvent[] = [];
    const sub = await subscribeProgress(natsUrl, 'job-a', (e) => got.push(e));
    expect(sub).toBeDefined();
    const bus = await connectEventBus(natsUrl, { name: 'test-publisher' });
    expect(bus).toBeInstanceOf(NatsEventBus);

    const events: ProgressEvent[] = [
      progressEvent(
        { jobId: 'job-a', stage: 'keyframe', segment: 0, state: 'started' },
        new Date('2024-05-01T10:00:00Z'),
      ),
      progressEvent({ jobId: 'job-b', stage: 'keyframe', segment: 0, state: 'started' }),
      progressEvent({
        jobId: 'job-a',
        stage: 'upscale',
        segment: 2,
        window: 1,
        tile: 7,
        step: 3,
        steps: 20,
        state: 'progress',
      }),
      progressEvent({
        jobId: 'job-a',
        stage: 'job',
        done: 5,
        total: 5,
        state: 'completed',
        message: 'final.mp4 written',
      }),
    ];
    for (const e of events) bus.publish(e);
    await until('3 events', () => got.length >= 3);
    await new Promise((r) => setTimeout(r, 200)); // would catch a stray job-b event
    expect(got).toEqual([events[0], events[2], events[3]]);
    expect(got[0]!.at).toBe('2024-05-01T10:00:00.000Z');

    await bus.close();
    await sub!.close();
  });

  it('skips messages on the subject that are not progress events, and survives a throwing handler', async () => {
    const got: ProgressEvent[] = [];
    const warnings: string[] = [];
    let calls = 0;
    const sub = await subscribeProgress(
      natsUrl,
      'job-garbage',
      (e) => {
        calls++;
        if (calls === 1) throw new Error('handler bug');
        got.push(e);
      },
      { warn: (m) => warnings.push(m) },
    );
    const nc = await connect({ servers: natsUrl });
    const subject = SUBJECTS.progress('job-garbage');
    const enc = (x: unknown) => new TextEncoder().encode(typeof x === 'string' ? x : JSON.stringify(x));
    nc.publish(subject, enc('not json'));
    nc.publish(subject, enc({ jobId: 'job-garbage', stage: 'warp', state: 'started', at: 'now' }));
    nc.publish(subject, enc({ jobId: 'other', stage: 'prepare', state: 'started', at: 'now' }));
    const good = progressEvent({ jobId: 'job-garbage', stage: 'prepare', state: 'started' });
    nc.publish(subject, enc(good));
    nc.publish(subject, enc({ ...good, state: 'completed' }));
    await nc.flush();
    await until('the second good event', () => got.length >= 1);
    expect(calls).toBe(2);
    expect(got).toEqual([{ ...good, state: 'completed' }]);
    expect(warnings.some((w) => /not a progress event/.test(w))).toBe(true);
    expect(warnings.some((w) => /handler bug/.test(w))).toBe(true);
    await nc.close();
    await sub!.close();
  });

  it('gives a null bus quickly, with one warning, when nothing listens', async () => {
    const port = await freePort();
    const warnings: string[] = [];
    const started = Date.now();
    const bus = await connectEventBus(`nats://127.0.0.1:${port}`, {
      warn: (m) => warnings.push(m),
      timeoutMs: 1_000,
    });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(bus).toBeInstanceOf(NullEventBus);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`nats://127.0.0.1:${port}`);
    expect(() =>
      bus.publish(progressEvent({ jobId: 'j', stage: 'prepare', state: 'started' })),
    ).not.toThrow();
    await bus.close();

    expect(
      await subscribeProgress(`nats://127.0.0.1:${port}`, 'j', () => undefined, { timeoutMs: 1_000 }),
    ).toBeUndefined();
    const silent: string[] = [];
    expect(await connectEventBus(undefined, { warn: (m) => silent.push(m) })).toBeInstanceOf(NullEventBus);
    expect(silent).toEqual([]);
  });

  it('rejects a job id that cannot name a subject', async () => {
    await expect(subscribeProgress(natsUrl, 'a.b', () => undefined)).rejects.toBeInstanceOf(UserError);
    await expect(subscribeProgress(natsUrl, '*', () => undefined)).rejects.toThrow(/job id "\*" is invalid/);
    const warnings: string[] = [];
    const bus = await connectEventBus(natsUrl, { warn: (m) => warnings.push(m) });
    expect(() =>
      bus.publish(progressEvent({ jobId: 'bad.id', stage: 'prepare', state: 'started' })),
    ).not.toThrow();
    expect(() =>
      bus.publish(progressEvent({ jobId: 'bad.id', stage: 'prepare', state: 'started' })),
    ).not.toThrow();
    expect(warnings).toHaveLength(1);
    await bus.close();
  });

  describe('when the server goes away mid-job', () => {
    let server: ChildProcess | undefined;
    let port: number;
    const startServer = async () => {
      server = spawn(requireTool(TOOL_NAMES.natsServer), ['-a', '127.0.0.1', '-p', String(port)], {
        stdio: 'ignore',
      });
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          const nc = await connect({ servers: `nats://127.0.0.1:${port}`, timeout: 500 });
          await nc.close();
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const killServer = async () => {
      const s = server;
      server = undefined;
      if (!s || s.exitCode !== null) return;
      const exited = new Promise((r) => s.once('exit', r));
      s.kill('SIGKILL');
      await exited;
    };

    beforeAll(async () => {
      port = await freePort();
      await startServer();
    });
    afterAll(killServer);

    it('drops events without throwing or blocking, then delivers again once it is back', async () => {
      const url = `nats://127.0.0.1:${port}`;
      const warnings: string[] = [];
      const bus = (await connectEventBus(url, { warn: (m) => warnings.push(m) })) as NatsEventBus;
      expect(bus).toBeInstanceOf(NatsEventBus);
      const before: ProgressEvent[] = [];
      const sub1 = await subscribeProgress(url, 'outage', (e) => before.push(e));
      bus.publish(progressEvent({ jobId: 'outage', stage: 'decode', segment: 0, state: 'started' }));
      await until('the event before the outage', () => before.length === 1);

      await killServer();
      await until('the bus to notice the outage', () => !bus.connected);
      expect(warnings.some((w) => /lost; progress events are dropped/.test(w))).toBe(true);
      const started = performance.now();
      for (let i = 0; i < 10_000; i++) {
        bus.publish(
          progressEvent({ jobId: 'outage', stage: 'upscale', segment: 0, tile: i, state: 'progress' }),
        );
      }
      const elapsedMs = performance.now() - started;
      expect(elapsedMs).toBeLessThan(2_000);
      expect(bus.dropped).toBe(10_000);

      await startServer();
      await until('the bus to reconnect', () => bus.connected, 20_000);
      const after: ProgressEvent[] = [];
      const sub2 = await subscribeProgress(url, 'outage', (e) => after.push(e));
      const last = progressEvent({ jobId: 'outage', stage: 'job', state: 'completed' });
      bus.publish(last);
      await until('the event after the outage', () => after.length === 1);
      expect(after).toEqual([last]);
      expect(warnings.some((w) => /back after dropping 10000/.test(w))).toBe(true);

      await sub1?.close();
      await sub2?.close();
      await bus.close();
    });

    it('closes promptly while the server is down', async () => {
      if (!server) await startServer();
      const bus = await connectEventBus(`nats://127.0.0.1:${port}`, { warn: () => undefined });
      await killServer();
      expect(() =>
        bus.publish(progressEvent({ jobId: 'outage', stage: 'prepare', state: 'failed' })),
      ).not.toThrow();
      const started = Date.now();
      await bus.close();
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });
});
