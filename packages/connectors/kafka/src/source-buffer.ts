/**
 * The records the `kafka` source has fetched ahead of the pipeline: decoded chunks in fetch
 * order, handed out one partition at a time, with the position of each partition moving past
 * exactly what was handed out.
 */

import type { SourceBatch } from '@sluice/core';
import type { DecodedChunk } from './formats.ts';

/** One assigned partition. A new object per assignment, so stale fetches are recognised. */
export interface PartitionState {
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  /** Next offset to fetch; NaN until the start is resolved. */
  fetchAt: number;
  /** Offset after the records returned so far (the position); NaN until resolved. */
  returned: number;
  leaderEpoch: number;
}

interface QueuedChunk {
  readonly state: PartitionState;
  readonly data: DecodedChunk;
  /** Records and failures already returned. */
  rec: number;
  fail: number;
}

function remaining(c: QueuedChunk): number {
  return c.data.records.length - c.rec + (c.data.failures.length - c.fail);
}

export class FetchBuffer {
  #queue: QueuedChunk[] = [];
  #size = 0;

  /** Records and failures waiting to be returned. */
  get size(): number {
    return this.#size;
  }

  /** Queues a decoded chunk (possibly empty: it still moves the position when reached). */
  push(state: PartitionState, data: DecodedChunk): void {
    this.#queue.push({ state, data, rec: 0, fail: 0 });
    this.#size += data.records.length + data.failures.length;
  }

  /** Forgets everything fetched for these partitions (revoked). */
  drop(keys: ReadonlySet<string>): void {
    const kept: QueuedChunk[] = [];
    for (const c of this.#queue) {
      if (keys.has(c.state.key)) this.#size -= remaining(c);
      else kept.push(c);
    }
    this.#queue = kept;
  }

  /** Whether anything fetched for this partition assignment is still queued. */
  holds(state: PartitionState): boolean {
    for (const c of this.#queue) if (c.state === state) return true;
    return false;
  }

  /**
   * Up to `max` records of the oldest chunk whose partition is still `current`, with the
   * failures among them; moves that partition's `returned` past them. Undefined when empty.
   */
  take(max: number, current: (state: PartitionState) => boolean): SourceBatch | undefined {
    while (this.#queue.length > 0) {
      const c = this.#queue[0];
      const st = c.state;
      const d = c.data;
      if (!current(st)) {
        this.#queue.shift();
        this.#size -= remaining(c);
        continue;
      }
      const total = d.records.length;
      if (c.rec >= total && c.fail >= d.failures.length) {
        // Nothing (left) to return: only the position moves past what the fetch covered.
        if (d.next > st.returned) st.returned = d.next;
        this.#queue.shift();
        continue;
      }
      const end = Math.min(total, c.rec + max);
      const stop = end < total ? d.offsets[end] : Number.POSITIVE_INFINITY;
      let fEnd = c.fail;
      while (fEnd < d.failures.length && d.failures[fEnd].offset < stop) fEnd++;
      const whole = c.rec === 0 && end === total;
      const batch: SourceBatch = {
        records: whole ? d.records : d.records.slice(c.rec, end),
        offsets: whole ? d.offsets : d.offsets.slice(c.rec, end),
        times: whole ? d.times : d.times.slice(c.rec, end),
        partition: st.key,
      };
      if (fEnd > c.fail) batch.failures = d.failures.slice(c.fail, fEnd);
      this.#size -= end - c.rec + (fEnd - c.fail);
      if (end < total) {
        st.returned = d.offsets[end];
        c.rec = end;
        c.fail = fEnd;
      } else {
        st.returned = d.next;
        this.#queue.shift();
      }
      return batch;
    }
    return undefined;
  }
}

/** A wake-up call: `wait` resolves on `notify`, after `ms`, or on abort. */
export class Signal {
  readonly #waiters = new Set<() => void>();

  notify(): void {
    for (const done of [...this.#waiters]) done();
  }

  wait(ms: number, abort?: AbortSignal): Promise<void> {
    if (abort?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        abort?.removeEventListener('abort', done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      abort?.addEventListener('abort', done, { once: true });
      this.#waiters.add(done);
    });
  }
}
