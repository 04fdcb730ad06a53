/**
 * Leader election rules (src/scaling/leader.ts) over an in-memory Lease store that does what the API
 * server does with a Lease: create fails if it exists, replace fails unless the resourceVersion matches.
 * (The same code against the real API server: test/integration/scaler-kube.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { LeaseRecord } from '../../src/scaling/kube';
import { LeaderElector } from '../../src/scaling/leader';

class LeaseStore {
  lease?: LeaseRecord;
  #version = 0;
  /** When set, the next update fails as if another writer got there first. */
  interfere = false;
  async getLease(): Promise<LeaseRecord | undefined> {
    return this.lease ? { ...this.lease } : undefined;
  }
  async createLease(_name: string, l: LeaseRecord): Promise<boolean> {
    if (this.lease) return false;
    this.lease = { ...l, version: String(++this.#version) };
    return true;
  }
  async updateLease(_name: string, l: LeaseRecord): Promise<boolean> {
    if (this.interfere) {
      this.interfere = false;
      this.lease = { ...(this.lease as LeaseRecord), version: String(++this.#version) };
      return false;
    }
    if (!this.lease || l.version !== this.lease.version) return false;
    this.lease = { ...l, version: String(++this.#version) };
    return true;
  }
}

function pair() {
  const store = new LeaseStore();
  let t = 1_000_000;
  const clock = () => new Date(t);
  const a = new LeaderElector(store, { name: 'l', identity: 'a', clock });
  const b = new LeaderElector(store, { name: 'l', identity: 'b', clock });
  return { store, a, b, advance: (s: number) => (t += s * 1000) };
}

describe('leader election', () => {
  it('the first to create the Lease leads; the other does not', async () => {
    const { a, b, store } = pair();
    expect(await a.tick()).toBe(true);
    expect(await b.tick()).toBe(false);
    expect(store.lease?.holder).toBe('a');
    expect(b.holder).toBe('a');
  });

  it('a leader that keeps renewing keeps the Lease', async () => {
    const { a, b, advance, store } = pair();
    await a.tick();
    for (let i = 0; i < 10; i++) {
      advance(5);
      expect(await a.tick()).toBe(true);
      expect(await b.tick()).toBe(false);
    }
    expect(store.lease?.transitions).toBe(0);
  });

  it('a leader that cannot renew stops acting before anyone else may start', async () => {
    const { a, b, advance } = pair();
    await a.tick();
    await b.tick();
    // a goes silent. After the renew deadline (10 s) it no longer leads…
    advance(10);
    expect(a.isLeader()).toBe(false);
    // …and b, which saw the record unchanged for less than the lease (15 s), does not lead yet.
    expect(await b.tick()).toBe(false);
    advance(5);
    // 15 s after b first saw the record unchanged: b takes it over.
    expect(await b.tick()).toBe(true);
    expect(await a.tick()).toBe(false);
  });

  it('two candidates racing for an expired Lease: one wins', async () => {
    const { a, b, store, advance } = pair();
    let t = 1_000_000;
    const c = new LeaderElector(store, { name: 'l', identity: 'c', clock: () => new Date(t) });
    await a.tick();
    await b.tick();
    await c.tick();
    advance(20);
    t += 20_000;
    // Both see the Lease expired; both write; the compare-and-swap lets only the first through.
    const wins = [await b.tick(), await c.tick()];
    expect(wins).toEqual([true, false]);
    expect(store.lease?.holder).toBe('b');
    expect(store.lease?.transitions).toBe(1);
  });

  it('a renewal that loses the compare-and-swap does not extend leadership', async () => {
    const { a, store, advance } = pair();
    await a.tick();
    advance(5);
    store.interfere = true;
    await a.tick(); // failed renewal: still leading on the renewal of 5 s ago
    expect(a.isLeader()).toBe(true);
    advance(6); // 11 s since the last renewal that counted
    expect(a.isLeader()).toBe(false);
  });

  it('release hands the Lease over at once', async () => {
    const { a, b } = pair();
    await a.tick();
    await b.tick();
    await a.release();
    expect(a.isLeader()).toBe(false);
    expect(await b.tick()).toBe(true);
  });

  it('rejects a renew deadline not below the lease duration', () => {
    expect(
      () =>
        new LeaderElector(new LeaseStore(), {
          name: 'l',
          identity: 'a',
          leaseDurationSeconds: 10,
          renewDeadlineSeconds: 10,
        }),
    ).toThrow(/must be below/);
  });
});
