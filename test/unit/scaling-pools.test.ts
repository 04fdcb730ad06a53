import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/common/errors';
import { loadPoolsConfig, parsePoolsConfig, scaleDownDelay } from '../../src/scaling/pools';

const pool = (over: Record<string, unknown> = {}) => ({
  name: 'upscale-spot',
  deployment: 'vldm-worker-upscale-spot',
  queues: ['upscale'],
  gpusPerPod: 1,
  spot: true,
  pricePerHour: 1.2,
  coldStartSeconds: 150,
  maxReplicas: 8,
  ...over,
});
const file = (over: Record<string, unknown> = {}, pools: unknown[] = [pool()]) => ({
  maxPricePerHour: 20,
  secondsPerActivity: { upscale: 37 },
  pools,
  ...over,
});

describe('pools file', () => {
  it('fills the documented defaults', () => {
    const cfg = parsePoolsConfig(file());
    expect(cfg.defaultDeadlineSeconds).toBe(3600);
    expect(cfg.deadlineMarginSeconds).toBe(120);
    expect(cfg.damping).toEqual({ spotPendingTimeoutSeconds: 180, spotRetrySeconds: 900 });
    expect(cfg.pools[0]).toMatchObject({ minReplicas: 0, speedFactor: 1, activitiesPerPod: 1 });
    // The scale-down window defaults to the pool's cold start (rent-or-buy), unless set.
    expect(scaleDownDelay(cfg, cfg.pools[0])).toBe(150);
    expect(
      scaleDownDelay(parsePoolsConfig(file({ damping: { scaleDownDelaySeconds: 30 } })), cfg.pools[0]),
    ).toBe(30);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', [], /must hold a JSON object/],
    [
      'no price cap',
      file({ maxPricePerHour: undefined }),
      /maxPricePerHour must be a number > 0, got undefined/,
    ],
    ['unknown top key', file({ maxPrice: 3 }), /unknown key "maxPrice"/],
    [
      'unknown queue',
      file({}, [pool({ queues: ['upscale', 'render'] })]),
      /unknown queue "render" \(allowed: orchestration, keyframe, interpolation, decode, upscale, media\)/,
    ],
    [
      'queue without speed',
      file({}, [pool({ queues: ['decode'] })]),
      /serves "decode" but secondsPerActivity.decode is not set/,
    ],
    [
      'bad deployment name',
      file({}, [pool({ deployment: 'Worker_1' })]),
      /deployment must be a Deployment name \(DNS-1123 label\), got "Worker_1"/,
    ],
    [
      'min above max',
      file({}, [pool({ minReplicas: 5, maxReplicas: 2 })]),
      /minReplicas \(5\) must not exceed maxReplicas \(2\)/,
    ],
    [
      'fractional replicas',
      file({}, [pool({ maxReplicas: 2.5 })]),
      /maxReplicas must be an integer ≥ 0, got 2.5/,
    ],
    ['negative price', file({}, [pool({ pricePerHour: -1 })]), /pricePerHour must be a number ≥ 0, got -1/],
    ['spot not boolean', file({}, [pool({ spot: 'yes' })]), /spot must be true or false, got "yes"/],
    [
      'duplicate deployment',
      file({}, [pool(), pool({ name: 'other' })]),
      /name the same deployment "vldm-worker-upscale-spot"/,
    ],
    [
      'minimums over the cap',
      file({ maxPricePerHour: 2 }, [pool({ minReplicas: 2 })]),
      /minReplicas alone cost 2.40 per hour, above maxPricePerHour 2/,
    ],
    ['zero speed', file({}, [pool({ speedFactor: 0 })]), /speedFactor must be a number > 0, got 0/],
  ];
  it.each(bad)('rejects %s', (_name, raw, message) => {
    expect(() => parsePoolsConfig(raw)).toThrow(UserError);
    expect(() => parsePoolsConfig(raw)).toThrow(message);
  });

  it('lists every problem at once', () => {
    const err = (() => {
      try {
        parsePoolsConfig(file({ maxPricePerHour: 0 }, [pool({ gpusPerPod: -1, coldStartSeconds: 'slow' })]));
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toMatch(/maxPricePerHour.*gpusPerPod.*coldStartSeconds/);
  });

  it('reads a file and names it in errors', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vldm-pools-'));
    const good = path.join(dir, 'pools.json');
    writeFileSync(good, JSON.stringify(file()));
    expect(loadPoolsConfig(good).pools[0].name).toBe('upscale-spot');
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{ "pools": ');
    expect(() => loadPoolsConfig(broken)).toThrow(/pools file .*broken.json is not valid JSON/);
    expect(() => loadPoolsConfig(path.join(dir, 'missing.json'))).toThrow(
      /cannot read pools file .*missing.json: ENOENT/,
    );
  });
});
