/**
 * A binary min-heap of (time, key) pairs held in two parallel arrays, so pushing and popping
 * allocate nothing per entry. Entries order by time, then by key (string order), which makes the
 * order of equal-time entries independent of insertion history: a heap rebuilt from a checkpoint
 * pops in exactly the order the original would have.
 *
 * The heap does not deduplicate or delete; owners keep the truth in keyed state and skip popped
 * entries that are no longer live (lazy deletion).
 */
export class TimerHeap {
  #times: number[] = [];
  #keys: string[] = [];

  /** Number of entries, live or stale. */
  get size(): number {
    return this.#times.length;
  }

  /** Time of the smallest entry. Check `size` first. */
  get topTime(): number {
    return this.#times[0];
  }

  /** Key of the smallest entry. Check `size` first. */
  get topKey(): string {
    return this.#keys[0];
  }

  push(time: number, key: string): void {
    const times = this.#times;
    const keys = this.#keys;
    let i = times.length;
    times.push(time);
    keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent];
      if (pt < time || (pt === time && keys[parent] <= key)) break;
      times[i] = pt;
      keys[i] = keys[parent];
      i = parent;
    }
    times[i] = time;
    keys[i] = key;
  }

  /** Removes the smallest entry (read it first with `topTime`/`topKey`). */
  pop(): void {
    const times = this.#times;
    const keys = this.#keys;
    const lastTime = times.pop()!;
    const lastKey = keys.pop()!;
    if (times.length > 0) this.#siftDown(0, lastTime, lastKey);
  }

  /** Replaces the contents with the given entries in O(n). Takes ownership of the arrays. */
  rebuild(times: number[], keys: string[]): void {
    this.#times = times;
    this.#keys = keys;
    for (let i = (times.length >> 1) - 1; i >= 0; i--) this.#siftDown(i, times[i], keys[i]);
  }

  clear(): void {
    this.#times = [];
    this.#keys = [];
  }

  #siftDown(start: number, time: number, key: string): void {
    const times = this.#times;
    const keys = this.#keys;
    const n = times.length;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let ct = times[child];
      let ck = keys[child];
      const right = child + 1;
      if (right < n) {
        const rt = times[right];
        if (rt < ct || (rt === ct && keys[right] < ck)) {
          child = right;
          ct = rt;
          ck = keys[right];
        }
      }
      if (time < ct || (time === ct && key <= ck)) break;
      times[i] = ct;
      keys[i] = ck;
      i = child;
    }
    times[i] = time;
    keys[i] = key;
  }
}
