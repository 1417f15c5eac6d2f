/**
 * Coarse timers for expiring keyed state: keys are grouped into buckets of `granularity` ms by
 * their time, and a bucket comes due once its whole time range is ≤ the bound. Adding is O(1)
 * (usually an array push into the bucket the previous key went to) and expiring touches each key
 * once, in sequence — far cheaper than a heap per key when exact order does not matter.
 *
 * A key can come due up to `granularity` ms after its time, and may be added more than once, so
 * owners check each due key against their state (and treat state as expired by its own time, not
 * by whether the wheel has reached it yet).
 */

import { TimerHeap } from './timer-heap.ts';

export class TimerWheel {
  readonly granularity: number;
  readonly #buckets = new Map<number, string[]>();
  /** Bucket ids in time order (the heap's keys are unused). */
  readonly #order = new TimerHeap();
  #lastId = Number.NaN;
  #last: string[] = [];

  /** `granularity` is the bucket width in ms, > 0. */
  constructor(granularity: number) {
    this.granularity = granularity;
  }

  /** Number of keys held, counting repeats. */
  get size(): number {
    let n = 0;
    for (const keys of this.#buckets.values()) n += keys.length;
    return n;
  }

  /** Adds `key` to the bucket of `time` (not NaN). */
  add(time: number, key: string): void {
    const id = Math.floor(time / this.granularity);
    if (id === this.#lastId) {
      this.#last.push(key);
      return;
    }
    let keys = this.#buckets.get(id);
    if (keys === undefined) {
      keys = [];
      this.#buckets.set(id, keys);
      this.#order.push(id, '');
    }
    keys.push(key);
    this.#lastId = id;
    this.#last = keys;
  }

  /**
   * Removes and returns the keys of the earliest bucket whose every time is ≤ `bound`, or undefined
   * when no bucket is due. Call in a loop to take all due buckets.
   */
  takeDue(bound: number): string[] | undefined {
    const order = this.#order;
    if (order.size === 0) return undefined;
    const id = order.topTime;
    if ((id + 1) * this.granularity > bound) return undefined;
    order.pop();
    const keys = this.#buckets.get(id)!;
    this.#buckets.delete(id);
    if (id === this.#lastId) {
      this.#lastId = Number.NaN;
      this.#last = [];
    }
    return keys;
  }

  clear(): void {
    this.#buckets.clear();
    this.#order.clear();
    this.#lastId = Number.NaN;
    this.#last = [];
  }
}
