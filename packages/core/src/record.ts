/**
 * Records and batches: the data that moves through a pipeline.
 *
 * A record is a plain object. Records move in batches made of parallel arrays, so no per-record
 * wrapper is allocated on the hot path: `records[i]`, `times[i]`, `keys?.[i]` and `offsets?.[i]`
 * describe the same record.
 */

/** One record: a plain JSON-like object. */
export type Row = { [field: string]: unknown };

/** A resumable position inside a source partition (a byte offset, a sequence number, …). */
export type Offset = number | string;

/** Records moved together. All arrays have `records.length` entries. */
export interface Batch<T = Row> {
  /** The records. Operators never mutate a record they did not create; they build new ones. */
  records: T[];
  /** Event time of each record, epoch milliseconds. */
  times: number[];
  /** Key of each record, set by `key_by` and kept by operators that keep records one to one. */
  keys?: string[];
  /** Id of the source the records came from, when they come straight from one. */
  source?: string;
  /** Source partition the records came from. */
  partition?: string;
  /** Position of each record inside its source partition, for dead letters. */
  offsets?: Offset[];
  /**
   * The JSON text each record was decoded from, while the record is still that object: a
   * source decoding JSON may give it, and steps keep an entry only for a record they pass on
   * as it is (`undefined` for one they build). A sink writing JSON writes the text instead of
   * serializing the record again: the same value, spelled as the source spelled it.
   */
  texts?: (string | undefined)[];
}

/** An empty batch with the same origin as `like`. */
export function emptyBatchLike<T = Row>(like: Batch<unknown>): Batch<T> {
  const out: Batch<T> = { records: [], times: [] };
  if (like.keys) out.keys = [];
  if (like.source !== undefined) out.source = like.source;
  if (like.partition !== undefined) out.partition = like.partition;
  if (like.offsets) out.offsets = [];
  if (like.texts) out.texts = [];
  return out;
}

/**
 * Appends record `i` of `from` (its time, key and offset) to `to`, with `record` as its value;
 * its text goes along only when `record` is the very record it was decoded as.
 */
export function pushFrom<T>(to: Batch<T>, from: Batch<unknown>, i: number, record: T): void {
  to.records.push(record);
  to.times.push(from.times[i]);
  if (to.keys) to.keys.push(from.keys![i]);
  if (to.offsets) to.offsets.push(from.offsets![i]);
  if (to.texts) to.texts.push(record === from.records[i] ? from.texts![i] : undefined);
}

/**
 * `batch` without its texts: for steps that run the user's functions, which might change a
 * record in place, and for batches whose records a step built anew.
 */
export function withoutTexts<T>(batch: Batch<T>): Batch<T> {
  if (!batch.texts) return batch;
  const { texts: _, ...rest } = batch;
  return rest;
}

/** A record that failed, with the reason: the unit of the dead-letter output. */
export interface DeadLetter {
  /** Id of the source, step or sink that rejected the record. */
  step: string;
  /** Stable error code from the catalogue. */
  code: string;
  message: string;
  /** The original record, or the raw text when it could not be decoded. */
  payload: unknown;
  source?: string;
  partition?: string;
  offset?: Offset;
  /** Event time of the record when known, epoch ms. */
  eventTime?: number;
  /** Processing time when it failed, epoch ms. */
  failedAt: number;
}
