/** The wrong-fleet check (src/worker/fleet.ts) on activity inputs of every shape workers receive. */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { checkFleet, specOfArgs, type OwnFleet } from '../../src/worker/fleet';
import { fleetMismatch } from '../../src/common/fleet';

const PACK = 'a'.repeat(64);
const own: OwnFleet = { store: 'folder:/srv/a', packDigest: (l) => (l === '/packs/p' ? PACK : undefined) };
const spec = (fleet?: object) => ({ jobId: 'day-1-abc', pack: '/packs/p', ...(fleet ? { fleet } : {}) });

function refusal(args: unknown[]): ApplicationFailure | undefined {
  try {
    checkFleet(args, own);
    return undefined;
  } catch (err) {
    return err as ApplicationFailure;
  }
}

describe('which workers serve a job', () => {
  it('finds the spec in prepareJob’s input (the spec) and in a StageContext ({ spec, … })', () => {
    const f = { store: 'folder:/srv/a', pack: PACK };
    expect(specOfArgs([spec(f)])).toEqual(spec(f));
    expect(specOfArgs([{ spec: spec(f), pack: {}, labels: [] }])).toEqual(spec(f));
    expect(specOfArgs([42])).toBeUndefined();
    expect(specOfArgs([])).toBeUndefined();
  });

  it('serves jobs of its own store and pack, jobs that name no store, and jobs from before fleets', () => {
    expect(refusal([spec({ store: 'folder:/srv/a', pack: PACK })])).toBeUndefined();
    expect(refusal([{ spec: spec({ pack: PACK }) }])).toBeUndefined();
    expect(refusal([spec()])).toBeUndefined();
    // A pack this worker has not loaded yet is checked by prepareJob once loaded.
    expect(
      refusal([{ ...spec({ store: 'folder:/srv/a', pack: 'b'.repeat(64) }), pack: '/packs/q' }]),
    ).toBeUndefined();
  });

  it('refuses another store or another pack, non-retryably, naming both sides', () => {
    const store = refusal([{ spec: spec({ store: 's3://bucket/prefix', pack: PACK }) }]);
    expect(store).toBeInstanceOf(ApplicationFailure);
    expect(store?.type).toBe('VldmWrongFleet');
    expect(store?.nonRetryable).toBe(true);
    expect(store?.message).toBe(
      `this worker serves store folder:/srv/a (pack ${PACK.slice(0, 12)}), but job day-1-abc was submitted ` +
        `with store s3://bucket/prefix (pack ${PACK.slice(0, 12)}): its artifacts would land where the job ` +
        `never looks. Run the job's workers with its store and pack (--store, --pack), or give each fleet its ` +
        `own Temporal namespace`,
    );
    const pack = refusal([spec({ store: 'folder:/srv/a', pack: 'b'.repeat(64) })]);
    expect(pack?.message).toContain('submitted with store folder:/srv/a (pack bbbbbbbbbbbb)');
    expect(fleetMismatch({ store: 'x', pack: PACK }, { store: 'y' })).toBe('store');
    expect(fleetMismatch({ pack: PACK }, { store: 'y', pack: 'c' })).toBe('pack');
  });
});
