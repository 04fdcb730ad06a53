/**
 * Counting a workflow's activities as they complete: per stage (done, reused) for its progress query,
 * and in total for its result. One counter per workflow; shared by the segment bodies and chapters.
 */
import type { StageOutput } from '../src/common/boundary';
import type { StageCount } from '../src/common/progress';

export interface ActivityCounter {
  /** Count one completed activity of the stage whose counter is `c`; passes the output through. */
  counted: <T extends StageOutput>(c: StageCount) => (out: T) => T;
  totals: () => { total: number; reused: number };
}

export function activityCounter(): ActivityCounter {
  let total = 0;
  let reused = 0;
  return {
    counted: (c) => (out) => {
      c.done += 1;
      total += 1;
      if (out.reused) {
        c.reused += 1;
        reused += 1;
      }
      return out;
    },
    totals: () => ({ total, reused }),
  };
}
