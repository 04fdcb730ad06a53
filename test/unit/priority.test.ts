/**
 * Task priority keys from deadlines (src/common/priority.ts): the bounds, the key of work without a
 * deadline, and the spec form the workflows use.
 */
import { describe, expect, it } from 'vitest';
import {
  deadlinePriority,
  NO_DEADLINE_PRIORITY,
  PRIORITY_BOUNDS_SECONDS,
  specPriority,
} from '../../src/common/priority';

describe('deadlinePriority', () => {
  it('gives the nearest deadlines the lowest key, bounds inclusive', () => {
    const now = 1_000_000;
    const cases: Array<[number, number]> = [
      [-5, 1], // already past: as urgent as can be
      [0, 1],
      [600, 1],
      [601, 2],
      [1800, 2],
      [1801, 3],
      [3600, 3],
      [3601, 4],
      [86_400, 4],
    ];
    for (const [left, key] of cases) expect([left, deadlinePriority(now + left, now)]).toEqual([left, key]);
  });

  it('puts work without a deadline after every deadline, within Temporal’s default range 1–5', () => {
    expect(deadlinePriority(undefined, 0)).toBe(NO_DEADLINE_PRIORITY);
    expect(deadlinePriority(Number.NaN, 0)).toBe(NO_DEADLINE_PRIORITY);
    expect(NO_DEADLINE_PRIORITY).toBeGreaterThan(deadlinePriority(1e12, 0));
    expect(NO_DEADLINE_PRIORITY).toBeLessThanOrEqual(5);
    expect([...PRIORITY_BOUNDS_SECONDS].sort((a, b) => a - b)).toEqual(PRIORITY_BOUNDS_SECONDS);
  });

  it('reads a spec’s ISO 8601 deadline against a time in milliseconds', () => {
    const now = Date.parse('2026-11-26T12:00:00Z');
    expect(specPriority('2026-11-26T12:05:00Z', now)).toBe(1);
    expect(specPriority('2026-11-26T12:20:00Z', now)).toBe(2);
    expect(specPriority('2026-11-26T15:00:00Z', now)).toBe(4);
    expect(specPriority(undefined, now)).toBe(NO_DEADLINE_PRIORITY);
  });
});
