/**
 * The buffer of records waiting for the watermark, of the `pattern` and `over_aggregate` steps.
 */

import type { Row } from '../record.ts';

/**
 * The records waiting for the watermark, taken out by (time, arrival). Records that arrive in
 * time order (the usual case) go to a queue, the others to a heap; the smaller of the two heads
 * comes out first. Call `top()` before reading the head, after every `pop` or `push`.
 */
export class RecordBuffer<T = Row> {
  readonly #heap = new RecordHeap<T>();
  #times: number[] = [];
  #seqs: number[] = [];
  #records: (T | undefined)[] = [];
  #keys: string[] = [];
  #head = 0;
  #fromQueue = false;

  push(time: number, seq: number, record: T, key: string): void {
    const n = this.#times.length;
    if (n === this.#head || time >= this.#times[n - 1]) {
      this.#times.push(time);
      this.#seqs.push(seq);
      this.#records.push(record);
      this.#keys.push(key);
    } else {
      this.#heap.push(time, seq, record, key);
    }
  }

  /** Whether a record waits; finds which of queue and heap holds the first. */
  top(): boolean {
    const heap = this.#heap;
    if (this.#head === this.#times.length) {
      this.#fromQueue = false;
      return heap.size > 0;
    }
    if (heap.size === 0) {
      this.#fromQueue = true;
      return true;
    }
    const t = this.#times[this.#head];
    const ht = heap.topTime;
    this.#fromQueue = t < ht || (t === ht && this.#seqs[this.#head] < heap.topSeq);
    return true;
  }

  get topTime(): number {
    return this.#fromQueue ? this.#times[this.#head] : this.#heap.topTime;
  }
  get topKey(): string {
    return this.#fromQueue ? this.#keys[this.#head] : this.#heap.topKey;
  }
  get topRecord(): T {
    return this.#fromQueue ? this.#records[this.#head]! : this.#heap.topRecord;
  }

  pop(): void {
    if (!this.#fromQueue) {
      this.#heap.pop();
      return;
    }
    this.#records[this.#head] = undefined;
    this.#head++;
    const n = this.#times.length;
    if (this.#head === n) {
      this.#times.length = 0;
      this.#seqs.length = 0;
      this.#records.length = 0;
      this.#keys.length = 0;
      this.#head = 0;
    } else if (this.#head >= 4096 && this.#head * 2 >= n) {
      this.#times = this.#times.slice(this.#head);
      this.#seqs = this.#seqs.slice(this.#head);
      this.#records = this.#records.slice(this.#head);
      this.#keys = this.#keys.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Every waiting record, for a checkpoint, in no particular order. */
  entries(): { records: T[]; times: number[]; seqs: number[]; keys: string[] } {
    const h = this.#heap;
    const from = this.#head;
    return {
      records: [...(this.#records.slice(from) as T[]), ...h.records],
      times: [...this.#times.slice(from), ...h.times],
      seqs: [...this.#seqs.slice(from), ...h.seqs],
      keys: [...this.#keys.slice(from), ...h.keys],
    };
  }
}

/** A min-heap of buffered records by (time, arrival), in parallel arrays: nothing allocated per record. */
class RecordHeap<T> {
  times: number[] = [];
  seqs: number[] = [];
  records: T[] = [];
  keys: string[] = [];

  get size(): number {
    return this.times.length;
  }
  get topTime(): number {
    return this.times[0];
  }
  get topKey(): string {
    return this.keys[0];
  }
  get topRecord(): T {
    return this.records[0];
  }
  get topSeq(): number {
    return this.seqs[0];
  }

  push(time: number, seq: number, record: T, key: string): void {
    let i = this.times.length;
    this.times.push(time);
    this.seqs.push(seq);
    this.records.push(record);
    this.keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  pop(): void {
    const last = this.times.length - 1;
    this.#swap(0, last);
    this.times.pop();
    this.seqs.pop();
    this.records.pop();
    this.keys.pop();
    const n = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#less(r, l) ? r : l;
      if (!this.#less(c, i)) break;
      this.#swap(i, c);
      i = c;
    }
  }

  #less(a: number, b: number): boolean {
    const ta = this.times[a];
    const tb = this.times[b];
    return ta < tb || (ta === tb && this.seqs[a] < this.seqs[b]);
  }

  #swap(a: number, b: number): void {
    const t = this.times[a];
    this.times[a] = this.times[b];
    this.times[b] = t;
    const s = this.seqs[a];
    this.seqs[a] = this.seqs[b];
    this.seqs[b] = s;
    const r = this.records[a];
    this.records[a] = this.records[b];
    this.records[b] = r;
    const k = this.keys[a];
    this.keys[a] = this.keys[b];
    this.keys[b] = k;
  }
}
