/**
 * The simulator's clock and its future events. Events at the same time come out in the order they were
 * scheduled, so a run is the same on every machine and for every heap layout.
 */
import type { TraceJob } from '../trace';
import type { Pod } from './model';

export type SimEvent =
  | { kind: 'arrive'; job: TraceJob; index: number }
  | { kind: 'ready' | 'done' | 'notice' | 'kill'; pod: Pod; epoch: number }
  | { kind: 'shortage'; on: boolean }
  | { kind: 'tick' };

interface Entry {
  t: number;
  seq: number;
  e: SimEvent;
}

/** A binary min-heap of events by (time, scheduling order), and the time of the last one taken. */
export class Timeline {
  /** Simulated time: seconds after the trace start. */
  now = 0;
  #h: Entry[] = [];
  #seq = 0;

  /** Schedules an event at time `t` (seconds after the trace start). */
  at(t: number, e: SimEvent): void {
    const h = this.#h;
    h.push({ t, seq: this.#seq++, e });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[i], h[p])) {
        [h[i], h[p]] = [h[p], h[i]];
        i = p;
      } else break;
    }
  }

  /** Takes the next event and moves the clock to it; undefined when none is left at or before `until`. */
  next(until: number): SimEvent | undefined {
    if (!this.#h.length) return undefined;
    const { t, e } = this.#pop();
    if (t > until) return undefined;
    this.now = t;
    return e;
  }

  #pop(): Entry {
    const h = this.#h;
    const top = h[0];
    const last = h.pop() as Entry;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function less(a: Entry, b: Entry): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
