/**
 * The retention rule on a real folder store, with artifacts laid out as a job leaves them: which keys
 * are intermediate, the run markers (a rerun counts as running; unknown jobs are never touched), the
 * age threshold, dry runs, and the duration setting's parser. The same rule against MinIO and on real
 * jobs is test/integration/gc.test.ts.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  artifactClass,
  collectGarbage,
  createStore,
  jobState,
  markFinished,
  markStarted,
  retentionTagging,
  startRetentionSweeper,
  type ArtifactStore,
} from '../../src/storage';
import { RETENTION_SWEEP_EVERY_MS, RETENTION_SWEEP_FIRST_MS } from '../../src/storage/gc';
import { parseDuration } from '../../src/config/values';
import { resolveConfig } from '../../src/config/config';
import { UserError } from '../../src/common/errors';

const HOUR = 3_600_000;

describe('artifact classes', () => {
  it.each([
    ['jobs/j/decode/seg-000-f000000-0123456789abcdef.vldt', 'intermediate'],
    ['jobs/j/upscale/seg-000-tile0003-0123456789abcdef.vldt', 'intermediate'],
    ['jobs/j/upscale/seg-000-tile0003-0123456789abcdef.vldt.ckpt/sample/step-00003.vldt', 'intermediate'],
    ['jobs/j/keyframes/seg-001-0123456789abcdef.vldt.ckpt/window1/step-00002.vldt', 'intermediate'],
    ['jobs/j/keyframes/seg-001-0123456789abcdef.vldt', 'kept'],
    ['jobs/j/interpolation/seg-001-p1-at00004-0123456789abcdef.vldt', 'kept'],
    ['jobs/j/clips/seg-001-0123456789abcdef.mp4', 'kept'],
    ['jobs/j/output/j-0123456789abcdef.mp4', 'kept'],
    ['jobs/j/job/spec-0123456789abcdef.json', 'kept'],
    ['jobs/j/job/finished.json', 'kept'],
    ['jobs/j/init/image-0123456789abcdef.png', 'kept'],
    ['jobs/j/some-future-stage/x.vldt', 'kept'],
    ['jobs/j/decode', 'kept'],
    ['other/decode/x.vldt', 'kept'],
  ])('%s is %s', (key, cls) => {
    expect(artifactClass(key)).toBe(cls);
    expect(retentionTagging(key)).toBe(`vldm-retention=${cls}`);
  });
});

describe('the retention duration', () => {
  it.each([
    ['0s', 0],
    ['90m', 90 * 60_000],
    ['36h', 36 * HOUR],
    ['7d', 7 * 24 * HOUR],
  ])('reads %s', (text, ms) => expect(parseDuration('x', text)).toBe(ms));
  it.each(['7', '1.5h', '-1d', '7 days', '', 'h', '1w', '999999999d'])('refuses %j', (text) => {
    expect(() => parseDuration('--older-than', text)).toThrow(UserError);
    expect(() => parseDuration('--older-than', text)).toThrow(
      /--older-than must be a whole number with a unit/,
    );
  });
  it('is a config key with an environment variable, a flag, a default and "off"', () => {
    const dir = os.tmpdir();
    expect(resolveConfig({}, {}, dir).retention).toBe(7 * 24 * HOUR);
    expect(resolveConfig({}, { VLDM_RETENTION: '2h' }, dir).retention).toBe(2 * HOUR);
    expect(resolveConfig({}, { VLDM_RETENTION: 'off' }, dir).retention).toBe('off');
    expect(
      resolveConfig({ retention: '5m' as unknown as number }, { VLDM_RETENTION: '2h' }, dir).retention,
    ).toBe(5 * 60_000);
    expect(() => resolveConfig({}, { VLDM_RETENTION: '2 hours' }, dir)).toThrow(
      /retention \(VLDM_RETENTION\) must be a whole number with a unit .*got "2 hours"/,
    );
  });
});

describe('collectGarbage on a folder store', () => {
  let root: string;
  let store: ArtifactStore;
  const t0 = new Date('2026-01-01T00:00:00Z');

  /** A job's artifacts as a run leaves them (sizes differ so the tallies can be checked). */
  async function layJob(id: string): Promise<void> {
    const put = (k: string, n: number) => store.put(`jobs/${id}/${k}`, new Uint8Array(n).fill(7));
    await put('job/spec-aaaaaaaaaaaaaaaa.json', 10);
    await put('keyframes/seg-000-aaaaaaaaaaaaaaaa.vldt', 20);
    await put('interpolation/seg-000-p0-at00000-aaaaaaaaaaaaaaaa.vldt', 30);
    await put('decode/seg-000-f000000-aaaaaaaaaaaaaaaa.vldt', 100);
    await put('upscale/seg-000-tile0000-aaaaaaaaaaaaaaaa.vldt', 1000);
    await put('upscale/seg-000-tile0001-aaaaaaaaaaaaaaaa.vldt', 1000);
    await put('upscale/seg-000-tile0002-aaaaaaaaaaaaaaaa.vldt.ckpt/sample/step-00001.vldt', 500);
    await put('clips/seg-000-aaaaaaaaaaaaaaaa.mp4', 40);
    await put('output/x-aaaaaaaaaaaaaaaa.mp4', 50);
  }
  const keys = async (id: string) =>
    (await store.list(`jobs/${id}/`)).map((a) => a.key.slice(`jobs/${id}/`.length));
  const output = { key: 'jobs/x/output/x.mp4', sha256: 'ab'.repeat(32), bytes: 50 };

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'vldm-retention-'));
    store = createStore({ kind: 'local', root });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('deletes only the intermediates of jobs finished long enough ago, and says what it kept', async () => {
    await layJob('old');
    await markStarted(store, 'old', t0);
    await markFinished(store, 'old', output, new Date(t0.getTime() + HOUR));
    await layJob('recent');
    await markStarted(store, 'recent', t0);
    await markFinished(store, 'recent', output, new Date(t0.getTime() + 10 * HOUR));
    const now = new Date(t0.getTime() + 12 * HOUR);

    const seen: string[] = [];
    const dry = await collectGarbage(store, {
      olderThanMs: 6 * HOUR,
      now,
      dryRun: true,
      onJob: (r) => seen.push(r.jobId),
    });
    expect(seen).toEqual(['old', 'recent']);
    expect(dry.jobs.map((j) => j.action)).toEqual(['deleted', 'retained']);
    expect(dry.deleted).toEqual({ count: 4, bytes: 2600 });
    expect((await keys('old')).length).toBe(11); // a dry run deletes nothing

    const r = await collectGarbage(store, { olderThanMs: 6 * HOUR, now });
    const [old, recent] = r.jobs;
    expect(old).toMatchObject({
      jobId: 'old',
      action: 'deleted',
      finishedAt: '2026-01-01T01:00:00.000Z',
      deleted: {
        count: 4,
        bytes: 2600,
        byStage: { decode: { count: 1, bytes: 100 }, upscale: { count: 3, bytes: 2500 } },
      },
    });
    expect(old.kept.count).toBe(7);
    expect(recent).toMatchObject({
      action: 'retained',
      dueAt: '2026-01-01T16:00:00.000Z',
      deleted: { count: 0 },
    });
    expect(await keys('old')).toEqual([
      'clips/seg-000-aaaaaaaaaaaaaaaa.mp4',
      'interpolation/seg-000-p0-at00000-aaaaaaaaaaaaaaaa.vldt',
      'job/finished.json',
      'job/spec-aaaaaaaaaaaaaaaa.json',
      'job/started.json',
      'keyframes/seg-000-aaaaaaaaaaaaaaaa.vldt',
      'output/x-aaaaaaaaaaaaaaaa.mp4',
    ]);
    expect((await keys('recent')).length).toBe(11);
    // Again: nothing left to delete.
    expect((await collectGarbage(store, { olderThanMs: 6 * HOUR, now, jobId: 'old' })).jobs[0].action).toBe(
      'nothing-to-delete',
    );
  });

  it('never deletes a job that is running, died, is being rerun, or left no markers', async () => {
    const now = new Date(t0.getTime() + 100 * HOUR);
    await layJob('running');
    await markStarted(store, 'running', t0);
    await layJob('rerun');
    await markStarted(store, 'rerun', t0);
    await markFinished(store, 'rerun', output, new Date(t0.getTime() + HOUR));
    expect((await jobState(store, 'rerun')).state).toBe('finished');
    await markStarted(store, 'rerun', new Date(t0.getTime() + 2 * HOUR)); // a new run of the same job
    await layJob('legacy');
    const r = await collectGarbage(store, { olderThanMs: 0, now });
    expect(r.jobs.map((j) => [j.jobId, j.action])).toEqual([
      ['legacy', 'unknown'],
      ['rerun', 'running'],
      ['running', 'running'],
    ]);
    expect(r.deleted.count).toBe(0);
    // The rerun finishes: now its intermediates may go.
    await markFinished(store, 'rerun', output, new Date(t0.getTime() + 3 * HOUR));
    expect((await collectGarbage(store, { olderThanMs: 0, now, jobId: 'rerun' })).jobs[0].action).toBe(
      'deleted',
    );
  });

  it('treats a damaged marker as absent (never as finished)', async () => {
    await layJob('damaged');
    await markStarted(store, 'damaged', t0);
    await store.put('jobs/damaged/job/finished.json', Buffer.from('{not json'));
    expect((await jobState(store, 'damaged')).state).toBe('running');
  });

  it("the media workers' sweep applies the rule a minute after start, then hourly, and logs what it deleted", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'] });
    try {
      await layJob('swept');
      await markStarted(store, 'swept', t0);
      await markFinished(store, 'swept', output, t0);
      const lines: string[] = [];
      const sweeper = startRetentionSweeper(store, HOUR, (l) => lines.push(l));
      await vi.advanceTimersByTimeAsync(RETENTION_SWEEP_FIRST_MS - 1);
      expect((await keys('swept')).length).toBe(11); // not yet
      await vi.advanceTimersByTimeAsync(1);
      await vi.waitFor(() => expect(lines).toHaveLength(1), { timeout: 10_000, interval: 20 });
      expect(lines[0]).toBe('retention: deleted 4 intermediate artifacts (2600 bytes) of 1 finished jobs');
      expect((await keys('swept')).length).toBe(7);
      // A new job finishing later is swept by the hourly run.
      await layJob('later');
      await markStarted(store, 'later', t0);
      await markFinished(store, 'later', output, t0);
      await vi.advanceTimersByTimeAsync(RETENTION_SWEEP_EVERY_MS);
      await vi.waitFor(() => expect(lines).toHaveLength(2), { timeout: 10_000, interval: 20 });
      await sweeper.stop();
      expect((await keys('later')).length).toBe(7);
    } finally {
      vi.useRealTimers();
    }
  });
});
