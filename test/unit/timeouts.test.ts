/** Timeouts from measured speed (src/planning/timeouts.ts). */
import { describe, expect, it } from 'vitest';
import {
  timeoutsFor,
  MIN_HEARTBEAT_MS,
  MIN_START_TO_CLOSE_MS,
  MAX_START_TO_CLOSE_MS,
} from '../../src/planning/timeouts';

describe('timeoutsFor', () => {
  it.each([
    // fast calls: floors apply
    { msPerCall: 2, calls: 4, heartbeat: MIN_HEARTBEAT_MS, close: MIN_START_TO_CLOSE_MS },
    // 5 s per call (a big tile on CPU): heartbeat 50 s, 20 steps → 10·100 s + 60 s
    { msPerCall: 5000, calls: 20, heartbeat: 50_000, close: 1_060_000 },
    // 1.5 s, one call (decode): heartbeat floor, 15 s + 60 s → floor 120 s
    { msPerCall: 1500, calls: 1, heartbeat: MIN_HEARTBEAT_MS, close: MIN_START_TO_CLOSE_MS },
    // absurdly slow: capped
    { msPerCall: 600_000, calls: 50, heartbeat: 6_000_000, close: MAX_START_TO_CLOSE_MS },
  ])('$msPerCall ms × $calls calls', ({ msPerCall, calls, heartbeat, close }) => {
    expect(timeoutsFor({ stage: 'upscale', msPerCall, callsPerActivity: calls })).toEqual({
      heartbeatTimeoutMs: heartbeat,
      startToCloseTimeoutMs: close,
    });
  });
});
