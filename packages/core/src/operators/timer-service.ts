/**
 * Keyed timers: at most one timer per (key, time), fired in (time, key) order.
 *
 * The registered timers live in keyed state (so they are checkpointed with it and a
 * larger-than-memory backend can hold them); a `TimerHeap` over them is rebuilt on restore and
 * gives the firing order. Deleted timers stay in the heap until they surface and are skipped, or
 * until stale entries outnumber live ones and the heap is rebuilt.
 */

import type { KeyedMap, StateBackend } from '../state.ts';
import { TimerHeap } from './timer-heap.ts';

/** The times registered for one key: one number, or an array when there are several. */
export type RegisteredTimes = number | number[];

/** Stale heap entries tolerated beyond the live count before the heap is rebuilt. */
const STALE_SLACK = 1024;

/** The timers of one time domain (event or processing time). */
export class TimerQueue {
  readonly #registered: KeyedMap<RegisteredTimes>;
  readonly #heap = new TimerHeap();
  #live = 0;
  /** Key of the timer the last successful `next` removed. */
  key = '';
  /** Time of the timer the last successful `next` removed. */
  time = 0;

  /** Wraps `registered` (possibly restored from a checkpoint) and builds the firing order from it. */
  constructor(registered: KeyedMap<RegisteredTimes>) {
    this.#registered = registered;
    this.#rebuild();
  }

  /** Number of registered timers. */
  get size(): number {
    return this.#live;
  }

  /** Registers a timer for `key` at `time` (not NaN). Returns false when it was already registered. */
  register(key: string, time: number): boolean {
    const registered = this.#registered;
    const times = registered.get(key);
    if (times === undefined) {
      registered.set(key, time);
    } else if (typeof times === 'number') {
      if (times === time) return false;
      registered.set(key, [times, time]);
    } else {
      if (times.includes(time)) return false;
      times.push(time);
      registered.set(key, times);
    }
    this.#live++;
    this.#heap.push(time, key);
    return true;
  }

  /** Removes the timer for `key` at `time`. Returns false when there was none. */
  delete(key: string, time: number): boolean {
    if (!this.#unregister(key, time)) return false;
    if (this.#heap.size > 2 * this.#live + STALE_SLACK) this.#rebuild();
    return true;
  }

  has(key: string, time: number): boolean {
    const times = this.#registered.get(key);
    if (times === undefined) return false;
    return typeof times === 'number' ? times === time : times.includes(time);
  }

  /** Time of the earliest registered timer, or `Infinity` when there is none. */
  peek(): number {
    const heap = this.#heap;
    while (heap.size > 0) {
      if (this.has(heap.topKey, heap.topTime)) return heap.topTime;
      heap.pop();
    }
    return Number.POSITIVE_INFINITY;
  }

  /**
   * Removes the earliest registered timer whose time is ≤ `bound` and exposes it as `key` and
   * `time`. Returns false when there is none. Timers registered between calls take part, so a loop
   * over `next` also fires timers registered while firing.
   */
  next(bound: number): boolean {
    const heap = this.#heap;
    while (heap.size > 0) {
      const time = heap.topTime;
      if (time > bound) return false;
      const key = heap.topKey;
      heap.pop();
      if (this.#unregister(key, time)) {
        this.key = key;
        this.time = time;
        return true;
      }
    }
    return false;
  }

  #unregister(key: string, time: number): boolean {
    const registered = this.#registered;
    const times = registered.get(key);
    if (times === undefined) return false;
    if (typeof times === 'number') {
      if (times !== time) return false;
      registered.delete(key);
    } else {
      const at = times.indexOf(time);
      if (at < 0) return false;
      times.splice(at, 1);
      if (times.length === 1) registered.set(key, times[0]);
      else registered.set(key, times);
    }
    this.#live--;
    return true;
  }

  #rebuild(): void {
    const times: number[] = [];
    const keys: string[] = [];
    for (const [key, registered] of this.#registered.entries()) {
      if (typeof registered === 'number') {
        times.push(registered);
        keys.push(key);
      } else {
        for (const time of registered) {
          times.push(time);
          keys.push(key);
        }
      }
    }
    this.#live = times.length;
    this.#heap.rebuild(times, keys);
  }
}

/** Event-time and processing-time timers of one operator, kept in its state backend. */
export class TimerService {
  /** Fire when the watermark reaches their time. State name `event-timers`. */
  readonly event: TimerQueue;
  /** Fire when the clock reaches their time. State name `processing-timers`. */
  readonly processing: TimerQueue;

  constructor(backend: StateBackend) {
    this.event = new TimerQueue(backend.map<RegisteredTimes>('event-timers'));
    this.processing = new TimerQueue(backend.map<RegisteredTimes>('processing-timers'));
  }
}
