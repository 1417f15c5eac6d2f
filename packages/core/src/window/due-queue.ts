/**
 * A binary min-heap of timed entries, ordered by (due, seq), that knows where each entry sits so
 * an entry's due time can be lowered or the entry removed in O(log n).
 */

/** What the queue stores: the fields it orders by and the slot it keeps up to date. */
export interface DueEntry {
  /** When the entry is due; ties go to the lower `seq`. */
  queuedDue: number;
  readonly seq: number;
  /** Position in the heap, or −1 when not queued. */
  heapIndex: number;
}

function before(a: DueEntry, b: DueEntry): boolean {
  return a.queuedDue < b.queuedDue || (a.queuedDue === b.queuedDue && a.seq < b.seq);
}

/** A min-heap of {@link DueEntry}; each entry is in it at most once. */
export class DueQueue<T extends DueEntry> {
  readonly #heap: T[] = [];

  /** Entries in the queue. */
  get size(): number {
    return this.#heap.length;
  }

  /** The entry due first, or undefined when empty. */
  peek(): T | undefined {
    return this.#heap[0];
  }

  /** Adds an entry that is not in the queue. */
  push(entry: T): void {
    entry.heapIndex = this.#heap.length;
    this.#heap.push(entry);
    this.#up(entry.heapIndex);
  }

  /** Restores the order after `entry.queuedDue` changed (either way). */
  update(entry: T): void {
    this.#up(entry.heapIndex);
    this.#down(entry.heapIndex);
  }

  /** Takes an entry out of the queue; its `heapIndex` becomes −1. */
  remove(entry: T): void {
    const heap = this.#heap;
    const index = entry.heapIndex;
    const last = heap.pop()!;
    entry.heapIndex = -1;
    if (last === entry) return;
    heap[index] = last;
    last.heapIndex = index;
    this.#up(index);
    this.#down(last.heapIndex);
  }

  #up(start: number): void {
    const heap = this.#heap;
    let i = start;
    const entry = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent])) break;
      heap[i] = heap[parent];
      heap[i].heapIndex = i;
      i = parent;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }

  #down(start: number): void {
    const heap = this.#heap;
    const n = heap.length;
    let i = start;
    const entry = heap[i];
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right], heap[left]) ? right : left;
      if (!before(heap[child], entry)) break;
      heap[i] = heap[child];
      heap[i].heapIndex = i;
      i = child;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }
}
