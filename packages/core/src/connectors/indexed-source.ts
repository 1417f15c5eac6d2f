/**
 * Readers of sources whose record `i` is a pure function of its index (`generate`, `nexmark`):
 * partition `p<k>` of `partitions` makes indexes k, k + partitions, k + 2 × partitions, … below
 * `end`; its position is `{ next }`, the index it makes next; a rate limit paces each partition.
 */

import type { SourceBatch, SourceContext, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Offset, Row } from '../record.ts';
import { RateLimit } from './rate-limit.ts';

/** Makes record `index`, leaving its event time in `time`. */
export interface IndexedGenerator {
  record(index: number): Row;
  readonly time: number;
}

/** Position of a partition of an indexed source: the index of the next record it makes. */
export interface IndexedPosition {
  next: number;
}

export interface IndexedSourceOptions {
  readonly partitions: number;
  /** Records over all partitions; Infinity when unbounded. */
  readonly end: number;
  /** Records per second of each partition; 0 for no limit. */
  readonly rate: number;
  /** A generator for one partition (each reader has its own, so they can run interleaved). */
  readonly generator: () => IndexedGenerator;
}

/**
 * Opens one reader per partition, each resuming from its restored position. Throws
 * CHECKPOINT_INCOMPATIBLE for a position that does not fit the partitions (changed `partitions`).
 */
export function openIndexedReaders(ctx: SourceContext, options: IndexedSourceOptions): SourceReader[] {
  const { partitions, end, rate } = options;
  const readers: SourceReader[] = [];
  for (let p = 0; p < partitions; p++) {
    const id = `p${p}`;
    const first = restoredNext(ctx.restored[id], p, partitions, ctx.id) ?? p;
    const limit = rate > 0 ? new RateLimit(rate, ctx.clock) : undefined;
    readers.push(new IndexedReader(id, options.generator(), first, partitions, end, limit));
  }
  return readers;
}

class IndexedReader implements SourceReader {
  readonly partition: string;
  readonly #generator: IndexedGenerator;
  readonly #stride: number;
  readonly #end: number;
  readonly #limit: RateLimit | undefined;
  #next: number;

  constructor(
    partition: string,
    generator: IndexedGenerator,
    first: number,
    stride: number,
    end: number,
    limit: RateLimit | undefined,
  ) {
    this.partition = partition;
    this.#generator = generator;
    this.#next = first;
    this.#stride = stride;
    this.#end = end;
    this.#limit = limit;
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    if (this.#next >= this.#end) return null;
    let n = Math.min(max, Math.ceil((this.#end - this.#next) / this.#stride));
    if (this.#limit !== undefined) n = await this.#limit.allowance(n, signal);
    const generator = this.#generator;
    const stride = this.#stride;
    const records: Row[] = new Array(n);
    const times: number[] = new Array(n);
    const offsets: Offset[] = new Array(n);
    let index = this.#next;
    for (let i = 0; i < n; i++) {
      records[i] = generator.record(index);
      times[i] = generator.time;
      offsets[i] = index;
      index += stride;
    }
    this.#next = index;
    return { records, times, offsets };
  }

  position(): IndexedPosition {
    return { next: this.#next };
  }

  async close(): Promise<void> {}
}

function restoredNext(
  restored: unknown,
  partition: number,
  partitions: number,
  id: string,
): number | undefined {
  if (restored === undefined) return undefined;
  const next = (restored as Partial<IndexedPosition> | null)?.next;
  if (
    typeof next !== 'number' ||
    !Number.isSafeInteger(next) ||
    next < 0 ||
    next % partitions !== partition
  ) {
    throw new SluiceError(
      'CHECKPOINT_INCOMPATIBLE',
      `position ${JSON.stringify(restored)} of partition p${partition} does not fit ${partitions} ` +
        'partition(s); was `partitions` changed? Restart with --from-scratch',
      { step: id },
    );
  }
  return next;
}
