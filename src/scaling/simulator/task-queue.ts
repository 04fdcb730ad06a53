/** A task queue as Temporal's matching dispatches it: lowest priority key first, FIFO within a key. */
import type { Task } from './model';

/** A FIFO queue of tasks with O(1) push and shift. */
class Fifo {
  #items: Task[] = [];
  #head = 0;
  get length(): number {
    return this.#items.length - this.#head;
  }
  push(t: Task): void {
    this.#items.push(t);
  }
  peek(): Task | undefined {
    return this.#items[this.#head];
  }
  shift(): Task | undefined {
    const t = this.#items[this.#head];
    if (t === undefined) return undefined;
    this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return t;
  }
}

export class TaskQueue {
  #byKey = new Map<number, Fifo>();
  #keys: number[] = [];
  #length = 0;
  get length(): number {
    return this.#length;
  }
  push(t: Task): void {
    let f = this.#byKey.get(t.priority);
    if (!f) {
      f = new Fifo();
      this.#byKey.set(t.priority, f);
      this.#keys.push(t.priority);
      this.#keys.sort((a, b) => a - b);
    }
    f.push(t);
    this.#length += 1;
  }
  #first(): Fifo | undefined {
    for (const k of this.#keys) {
      const f = this.#byKey.get(k) as Fifo;
      if (f.length) return f;
    }
    return undefined;
  }
  peek(): Task | undefined {
    return this.#first()?.peek();
  }
  /** The oldest task, whatever its key (for the backlog age). */
  oldest(): Task | undefined {
    let o: Task | undefined;
    for (const f of this.#byKey.values()) {
      const h = f.peek();
      if (h && (!o || h.queuedAt < o.queuedAt)) o = h;
    }
    return o;
  }
  shift(): Task | undefined {
    const t = this.#first()?.shift();
    if (t) this.#length -= 1;
    return t;
  }
}
