/**
 * What the `kafka` source has fetched ahead of the pipeline: fetched bytes in fetch order,
 * decoded only when handed out (a few batches at a time, so records live on the heap only from
 * `take` until the pipeline is done with them), one partition at a time, with the position of
 * each partition moving past exactly what was handed out.
 */

import type { SourceBatch } from '@sluice/core';
import type { DecodedChunk } from './formats.ts';
import type { ScannedBatches } from './record-batches.ts';

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

/**
 * Decodes batches `first` to `last - 1` of a fetch, skipping records before `from`; undefined
 * when they cannot be decoded yet (registry schemas still being fetched): `take` returns nothing
 * and decodes the same batches on a later call.
 */
export type ChunkDecoder = (
  state: PartitionState,
  fetched: ScannedBatches,
  first: number,
  last: number,
  from: number,
) => DecodedChunk | undefined;

interface QueuedChunk {
  readonly state: PartitionState;
  readonly fetched: ScannedBatches;
  /** The offset the fetch asked for. */
  readonly from: number;
  /** The next batch to decode, and the records (header counts) of it and those after it. */
  batch: number;
  undecoded: number;
  /** Decoded batches, with the records and failures already returned. */
  data: DecodedChunk | undefined;
  rec: number;
  fail: number;
  /** The position once every decoded record is returned. */
  end: number;
}

function remaining(c: QueuedChunk): number {
  const d = c.data;
  return c.undecoded + (d === undefined ? 0 : d.records.length - c.rec + (d.failures.length - c.fail));
}

export class FetchBuffer {
  readonly #decode: ChunkDecoder;
  #queue: QueuedChunk[] = [];
  #size = 0;
  #bytes = 0;

  constructor(decode: ChunkDecoder) {
    this.#decode = decode;
  }

  /** Records (counted from the batch headers until decoded) waiting to be returned. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of the fetched record batches held (until their chunk is all handed out or dropped). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues a fetched partition (possibly without records: it still moves the position when reached). */
  push(state: PartitionState, fetched: ScannedBatches, from: number): void {
    this.#queue.push({
      state,
      fetched,
      from,
      batch: 0,
      undecoded: fetched.count,
      data: undefined,
      rec: 0,
      fail: 0,
      end: from,
    });
    this.#size += fetched.count;
    this.#bytes += fetched.bytes.length;
  }

  /** Forgets everything fetched for these partitions (revoked). */
  drop(keys: ReadonlySet<string>): void {
    const kept: QueuedChunk[] = [];
    for (const c of this.#queue) {
      if (keys.has(c.state.key)) {
        this.#size -= remaining(c);
        this.#bytes -= c.fetched.bytes.length;
      } else kept.push(c);
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
   * failures among them; moves that partition's `returned` past them. Undefined when empty, or
   * when the next records cannot be decoded yet (see `ChunkDecoder`).
   */
  take(max: number, current: (state: PartitionState) => boolean): SourceBatch | undefined {
    while (this.#queue.length > 0) {
      const c = this.#queue[0];
      const st = c.state;
      if (!current(st)) {
        this.#queue.shift();
        this.#size -= remaining(c);
        this.#bytes -= c.fetched.bytes.length;
        continue;
      }
      let d = c.data;
      if (d === undefined || (c.rec >= d.records.length && c.fail >= d.failures.length)) {
        if (c.end > st.returned) st.returned = c.end;
        const batches = c.fetched.batches;
        if (c.batch >= batches.length) {
          // Everything returned: the position moves past what the fetch covered.
          if (c.fetched.next > st.returned) st.returned = c.fetched.next;
          this.#queue.shift();
          this.#bytes -= c.fetched.bytes.length;
          continue;
        }
        let last = c.batch;
        let counted = 0;
        while (last < batches.length && counted < max) counted += batches[last++].count;
        d = this.#decode(st, c.fetched, c.batch, last, c.from);
        if (d === undefined) return undefined;
        this.#size += d.records.length + d.failures.length - counted;
        c.undecoded -= counted;
        c.batch = last;
        c.data = d;
        c.rec = 0;
        c.fail = 0;
        c.end = last < batches.length ? batches[last].baseOffset : c.fetched.next;
        continue;
      }
      const total = d.records.length;
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
      if (d.texts) batch.texts = whole ? d.texts : d.texts.slice(c.rec, end);
      if (fEnd > c.fail) batch.failures = d.failures.slice(c.fail, fEnd);
      this.#size -= end - c.rec + (fEnd - c.fail);
      c.rec = end;
      c.fail = fEnd;
      st.returned = end < total ? d.offsets[end] : c.end;
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
