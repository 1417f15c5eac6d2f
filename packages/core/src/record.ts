/**
 * Records and batches: the data that moves through a pipeline.
 *
 * A record is a plain object. Records move in batches made of parallel arrays, so no per-record
 * wrapper is allocated on the hot path: `records[i]`, `times[i]`, `kinds?.[i]`, `keys?.[i]`,
 * `offsets?.[i]` and `watermarks?.[i]` describe the same record.
 */

/** One record: a plain JSON-like object. */
export type Row = { [field: string]: unknown };

/**
 * What a record does to the table a changelog describes: {@link INSERT} adds a row,
 * {@link UPDATE_BEFORE} retracts the row an update replaces, {@link UPDATE_AFTER} adds the row
 * that replaces it, {@link DELETE} removes a row. Stored in `Batch.kinds`.
 */
export type RowKind = 0 | 1 | 2 | 3;
/** The record adds a row (the kind of every record of an append-only stream). */
export const INSERT = 0;
/** The record is the old row of an update: it retracts that row. Followed by its UPDATE_AFTER. */
export const UPDATE_BEFORE = 1;
/** The record is the new row of an update. */
export const UPDATE_AFTER = 2;
/** The record removes a row. */
export const DELETE = 3;

/** The name of a row kind, for messages and changelog formats. */
export const ROW_KIND_NAMES = ['insert', 'update_before', 'update_after', 'delete'] as const;

/** A resumable position inside a source partition (a byte offset, a sequence number, …). */
export type Offset = number | string;

/** Records moved together. All arrays have `records.length` entries. */
export interface Batch<T = Row> {
  /** The records. Operators never mutate a record they did not create; they build new ones. */
  records: T[];
  /** Event time of each record, epoch milliseconds. */
  times: number[];
  /**
   * The kind of each record ({@link RowKind}) when the stream is a changelog. Absent: every
   * record is an INSERT — append-only streams carry no array and pay nothing. Steps that pass
   * records on keep each record's entry (`pushFrom`, `without`); a step that takes only appends
   * never sees the array, because the plan check refuses an updating input into it.
   */
  kinds?: RowKind[];
  /** Key of each record, set by `key_by` and kept by operators that keep records one to one. */
  keys?: string[];
  /** Id of the source the records came from, when they come straight from one. */
  source?: string;
  /** Source partition the records came from. */
  partition?: string;
  /** Position of each record inside its source partition, for dead letters. */
  offsets?: Offset[];
  /**
   * Where each record stands in its source's input: a counter the runtime assigns per source,
   * only for a source whose records reach a step by two branches (a diamond). That step takes the
   * branches' portions of a source batch in this order (`Node.flush`), so which record it meets
   * first does not depend on how the input was cut into batches. Steps that pass records on keep
   * each record's entry (the helpers here do), and a change a step emits for record i takes its
   * entry (`pushChange`); records a step builds otherwise (window results) carry none.
   */
  seqs?: number[];
  /**
   * The JSON text each record was decoded from, while the record is still that object: a
   * source decoding JSON may give it, and steps keep an entry only for a record they pass on
   * as it is (`undefined` for one they build). A sink writing JSON writes the text instead of
   * serializing the record again: the same value, spelled as the source spelled it.
   */
  texts?: (string | undefined)[];
  /**
   * The watermark that stood before each record (non-decreasing within the batch): what the
   * stream's event-time progress was when the record arrived, after the records before it. An
   * operator that compares times with the watermark (windows, dedupe, timers) first advances to
   * `watermarks[i]` — firing what became due, as if the watermark had arrived on its own — and
   * only then decides record `i`, so its lateness and the state it meets do not depend on how the
   * input was cut into batches. Absent: the watermark did not move during the batch (each record
   * meets the receiving operator's current watermark). Operators that pass records on keep each
   * record's entry; records an operator emits while handling record `i` carry the watermark it
   * had advanced to, and records it emits while advancing carry the watermark before the advance.
   */
  watermarks?: number[];
}

/** An empty batch with the same origin as `like`. */
export function emptyBatchLike<T = Row>(like: Batch<unknown>): Batch<T> {
  const out: Batch<T> = { records: [], times: [] };
  if (like.kinds) out.kinds = [];
  if (like.keys) out.keys = [];
  if (like.source !== undefined) out.source = like.source;
  if (like.partition !== undefined) out.partition = like.partition;
  if (like.offsets) out.offsets = [];
  if (like.seqs) out.seqs = [];
  if (like.texts) out.texts = [];
  if (like.watermarks) out.watermarks = [];
  return out;
}

/**
 * Appends record `i` of `from` (its time, kind, key, offset and watermark) to `to`, with `record` as its
 * value; its text goes along only when `record` is the very record it was decoded as.
 */
export function pushFrom<T>(to: Batch<T>, from: Batch<unknown>, i: number, record: T): void {
  to.records.push(record);
  to.times.push(from.times[i]);
  if (to.kinds) to.kinds.push(from.kinds![i]);
  if (to.keys) to.keys.push(from.keys![i]);
  if (to.offsets) to.offsets.push(from.offsets![i]);
  if (to.seqs) to.seqs.push(from.seqs![i]);
  if (to.texts) to.texts.push(record === from.records[i] ? from.texts![i] : undefined);
  if (to.watermarks) to.watermarks.push(from.watermarks![i]);
}

/** Records `from` to `to` (exclusive) of a batch, with every per-record array sliced alike. */
export function sliceBatch<T>(batch: Batch<T>, from: number, to: number): Batch<T> {
  if (from === 0 && to === batch.records.length) return batch;
  const out: Batch<T> = {
    ...batch,
    records: batch.records.slice(from, to),
    times: batch.times.slice(from, to),
  };
  if (batch.kinds) out.kinds = batch.kinds.slice(from, to);
  if (batch.keys) out.keys = batch.keys.slice(from, to);
  if (batch.offsets) out.offsets = batch.offsets.slice(from, to);
  if (batch.seqs) out.seqs = batch.seqs.slice(from, to);
  if (batch.texts) out.texts = batch.texts.slice(from, to);
  if (batch.watermarks) out.watermarks = batch.watermarks.slice(from, to);
  return out;
}

/** A batch of changes an operator builds: it always carries `kinds`. */
export type ChangeBatch = Batch & { kinds: RowKind[] };

/** An empty change batch: with `keys` when `keyed`, with `seqs` and `watermarks` when `like` has them. */
export function emptyChangeBatch(like: Batch<unknown>, keyed: boolean): ChangeBatch {
  const batch: ChangeBatch = { records: [], times: [], kinds: [] };
  if (keyed) batch.keys = [];
  if (like.seqs) batch.seqs = [];
  if (like.watermarks) batch.watermarks = [];
  return batch;
}

/**
 * Adds `record` to `to` as a change of `kind` caused by record `i` of `from`: it takes that
 * record's time, place in the source and watermark, and `key` when `to` carries keys.
 */
export function pushChange(
  to: ChangeBatch,
  from: Batch<unknown>,
  i: number,
  kind: RowKind,
  record: Row,
  key: string,
): void {
  to.records.push(record);
  to.times.push(from.times[i]);
  to.kinds.push(kind);
  if (to.keys) to.keys.push(key);
  if (to.seqs) to.seqs.push(from.seqs![i]);
  if (to.watermarks) to.watermarks.push(from.watermarks![i]);
}

/** The name of a row kind other than INSERT, as dead letters spell it. */
export function changeKindName(kind: RowKind): Exclude<(typeof ROW_KIND_NAMES)[number], 'insert'> {
  return kind === UPDATE_BEFORE ? 'update_before' : kind === UPDATE_AFTER ? 'update_after' : 'delete';
}

/** The kind of record `i` of `batch`: INSERT when the batch carries no kinds. */
export function kindAt(batch: Batch<unknown>, i: number): RowKind {
  return batch.kinds === undefined ? INSERT : batch.kinds[i];
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
  /**
   * The record's row kind when it was a change of an updating stream (`update_before`,
   * `update_after`, `delete`); absent for an insert, as every record of an append-only stream is.
   */
  kind?: Exclude<(typeof ROW_KIND_NAMES)[number], 'insert'>;
  /** Processing time when it failed, epoch ms. */
  failedAt: number;
}
