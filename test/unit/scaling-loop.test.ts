/**
 * The control loop's contract (src/scaling/loop.ts) with a ScaleTarget kept in memory: it applies only
 * what changed, records each change as an Event and each round on the sink, changes nothing when
 * observation fails or when it does not lead, and records a refused scale as a Warning. (Against the
 * real API server and Temporal: test/integration/scaler-kube.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { LeaderElector } from '../../src/scaling/leader';
import { ScalerLoop, type DecisionSink } from '../../src/scaling/loop';
import type { TemporalObservation } from '../../src/scaling/temporal';
import { MemoryTarget, config, quietLoop } from '../support/scaling-target';

const backlog = (n: number): TemporalObservation => ({
  queues: {
    upscale: { backlog: n, backlogAgeSeconds: 5, running: 0 },
    media: { backlog: 0, backlogAgeSeconds: 0, running: 0 },
  },
  jobs: [],
});

function sink() {
  const rounds: unknown[] = [];
  const s: DecisionSink = { publish: (d) => rounds.push(d), close: async () => undefined };
  return { s, rounds };
}

describe('scaler loop', () => {
  it('applies what changed, with an Event per change and a message per round', async () => {
    const target = new MemoryTarget();
    const { s, rounds } = sink();
    const log: string[] = [];
    const loop = new ScalerLoop({
      config,
      target,
      observe: async () => backlog(4),
      sink: s,
      log: (l) => log.push(l),
    });
    const r = await loop.step();
    expect(r.applied).toEqual([{ pool: 'up', deployment: 'w-up', from: 0, to: 1 }]);
    expect(target.scales.get('w-up')).toBe(1);
    expect(target.events).toEqual([
      {
        deployment: 'w-up',
        reason: 'ScaledUp',
        type: 'Normal',
        message: expect.stringMatching(/^up 0 → 1: .*upscale: 4 queued/),
      },
    ]);
    expect(log).toHaveLength(1);
    expect(rounds).toHaveLength(1);
    // Nothing changes the next round: nothing applied, no Event, but the round is still published.
    const again = await loop.step();
    expect(again.applied).toEqual([]);
    expect(target.events).toHaveLength(1);
    expect(rounds).toHaveLength(2);
  });

  it('changes nothing when observation fails', async () => {
    const target = new MemoryTarget();
    const loop = quietLoop(target, async () => Promise.reject(new Error('Temporal unreachable')));
    const r = await loop.step();
    expect(r.skipped).toMatch(/observation failed, nothing changed this round: Temporal unreachable/);
    expect(target.scales.get('w-up')).toBe(0);
    expect(target.events).toEqual([]);
  });

  it('records a refused scale as a Warning and goes on with the other pools', async () => {
    const target = new MemoryTarget();
    target.refuse.add('w-up');
    const obs = backlog(4);
    obs.queues.media = { backlog: 2, backlogAgeSeconds: 1, running: 0 };
    const loop = new ScalerLoop({ config, target, observe: async () => obs, log: () => undefined });
    const r = await loop.step();
    expect(r.applied.find((a) => a.pool === 'up')?.error).toMatch(/forbidden/);
    expect(target.scales.get('w-media')).toBe(1);
    expect(target.events.find((e) => e.deployment === 'w-up')).toMatchObject({
      reason: 'ScaleFailed',
      type: 'Warning',
    });
  });

  it('does nothing while another replica leads', async () => {
    const target = new MemoryTarget();
    target.lease = {
      holder: 'other',
      leaseDurationSeconds: 15,
      transitions: 0,
      version: '7',
      renewTime: new Date(),
    };
    const elector = new LeaderElector(target, { name: 'l', identity: 'me' });
    await elector.tick();
    const loop = new ScalerLoop({
      config,
      target,
      elector,
      observe: async () => backlog(4),
      log: () => undefined,
    });
    const r = await loop.step();
    expect(r).toEqual({ leader: false, applied: [] });
    expect(target.scales.get('w-up')).toBe(0);
  });

  it('stops writing mid-round when its leadership lapses', async () => {
    const target = new MemoryTarget();
    let t = 1_000_000;
    const elector = new LeaderElector(target, { name: 'l', identity: 'me', clock: () => new Date(t) });
    await elector.tick();
    const obs = backlog(4);
    obs.queues.media = { backlog: 2, backlogAgeSeconds: 1, running: 0 };
    // Observation takes longer than the renew deadline: no write may follow it.
    const loop = new ScalerLoop({
      config,
      target,
      elector,
      observe: async () => {
        t += 11_000;
        return obs;
      },
      log: () => undefined,
    });
    const r = await loop.step();
    expect(r.applied).toEqual([]);
    expect([...target.scales.values()]).toEqual([0, 0]);
  });
});
