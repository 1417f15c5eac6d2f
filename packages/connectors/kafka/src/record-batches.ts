/**
 * Kafka record batches (message format v2) read straight from the bytes of a fetch response.
 *
 * Reading happens in two passes. `scanBatches` runs when a fetch arrives: it reads only the
 * 61-byte header of each batch — offsets, counts, producer, control and transaction bits — so
 * it can tell where the next fetch starts and which batches belong to aborted transactions,
 * without touching a record. `forEachRecord` runs later, when the pipeline asks for records: it
 * walks one batch's records and hands each one's coordinates and byte ranges to a callback, so
 * the decoder turns a value into a row without an intermediate Buffer, BigInt or object per
 * record. Records wait in the fetched bytes, not as objects on the heap, until they are read.
 */

import { compressionsAlgorithmsByBitmask } from '@platformatic/kafka';

/** Bytes of the batch header, before the first record (written too by producer-batch.ts). */
export const BATCH_HEADER = 61;
const COMPRESSION = 0x07;
const LOG_APPEND_TIME = 0x08;
/** Attribute bit of a batch written in a transaction. */
export const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

/** A transaction the broker reports as aborted in a fetched range (read_committed). */
export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
}

/** One data batch of a fetch, known from its header. */
export interface BatchView {
  readonly baseOffset: number;
  readonly lastOffsetDelta: number;
  /** Records in the batch (the header's count). */
  readonly count: number;
  readonly baseTimestamp: number;
  /** With log-append time every record carries the batch's max timestamp. */
  readonly logAppendTime: boolean;
  readonly maxTimestamp: number;
  /** 0, or the compression of the records section (gzip 1, snappy 2, lz4 3, zstd 4). */
  readonly compression: number;
  /** The records section in the fetched bytes: [start, end). */
  readonly start: number;
  readonly end: number;
}

/** What a fetched partition holds, read from the batch headers. */
export interface ScannedBatches {
  readonly bytes: Buffer;
  /** Batches with records to read, in offset order: control batches and aborted ones are left out. */
  readonly batches: BatchView[];
  /** Records in `batches` (header counts). */
  readonly count: number;
  /** The offset after the last complete batch: where the next fetch starts. */
  readonly next: number;
  /** Partition leader epoch of the last complete batch (-1 when none), for commits. */
  readonly leaderEpoch: number;
}

/** A batch this reader cannot read (an old message format, an unknown compression). */
export class RecordBatchError extends Error {
  override readonly name = 'RecordBatchError';
}

function int64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 4_294_967_296 + buf.readUInt32BE(at + 4);
}

/**
 * Reads the headers of the complete batches in `bytes` (a fetch may end with a partial one,
 * which the next fetch returns whole). `from` is the offset the fetch asked for: the count
 * leaves out nothing, but `next` never goes below it. `aborted` is the fetch's list of aborted
 * transactions (read_committed; null otherwise): the data batches of those transactions are
 * left out, as Kafka's own consumer does — a producer's batches are aborted from the
 * transaction's first offset until its abort marker.
 */
export function scanBatches(
  bytes: Buffer,
  from: number,
  aborted: readonly AbortedTransaction[] | null,
): ScannedBatches {
  const batches: BatchView[] = [];
  let count = 0;
  let next = from;
  let leaderEpoch = -1;
  const pending =
    aborted && aborted.length > 0 ? [...aborted].sort((a, b) => a.firstOffset - b.firstOffset) : [];
  let nextAborted = 0;
  const abortedProducers = new Set<number>();
  let at = 0;
  while (at + BATCH_HEADER <= bytes.length) {
    const size = 12 + bytes.readInt32BE(at + 8);
    if (at + size > bytes.length) break;
    const magic = bytes[at + 16];
    if (magic !== 2) {
      throw new RecordBatchError(
        `record batch at offset ${int64(bytes, at)} uses message format v${magic}; only v2 (Kafka 0.11+) is read`,
      );
    }
    const baseOffset = int64(bytes, at);
    const attributes = bytes.readInt16BE(at + 21);
    const lastOffsetDelta = bytes.readInt32BE(at + 23);
    const lastOffset = baseOffset + lastOffsetDelta;
    const producerId = int64(bytes, at + 43);
    leaderEpoch = bytes.readInt32BE(at + 12);
    if (lastOffset + 1 > next) next = lastOffset + 1;
    while (nextAborted < pending.length && pending[nextAborted].firstOffset <= lastOffset) {
      abortedProducers.add(pending[nextAborted].producerId);
      nextAborted++;
    }
    if (attributes & CONTROL) {
      // A commit or abort marker: an abort ends that producer's aborted range.
      if (abortedProducers.has(producerId) && controlType(bytes, at, attributes) === 0) {
        abortedProducers.delete(producerId);
      }
    } else if (!(attributes & TRANSACTIONAL && abortedProducers.has(producerId)) && lastOffset >= from) {
      const n = bytes.readInt32BE(at + 57);
      batches.push({
        baseOffset,
        lastOffsetDelta,
        count: n,
        baseTimestamp: int64(bytes, at + 27),
        logAppendTime: (attributes & LOG_APPEND_TIME) !== 0,
        maxTimestamp: int64(bytes, at + 35),
        compression: attributes & COMPRESSION,
        start: at + BATCH_HEADER,
        end: at + size,
      });
      count += n;
    }
    at += size;
  }
  return { bytes, batches, count, next, leaderEpoch };
}

/** The type of a control batch's marker: 0 abort, 1 commit (-1 when unreadable). */
function controlType(bytes: Buffer, at: number, attributes: number): number {
  const records = recordsOf(
    bytes,
    at + BATCH_HEADER,
    at + 12 + bytes.readInt32BE(at + 8),
    attributes & COMPRESSION,
  );
  cursor = 0;
  readVarint(records); // record length
  cursor++; // attributes
  readVarint(records); // timestamp delta
  readVarint(records); // offset delta
  const keyLength = readVarint(records);
  if (keyLength < 4) return -1;
  return records.readInt16BE(cursor + 2);
}

/** The records section of a batch, decompressed when it is compressed. */
function recordsOf(bytes: Buffer, start: number, end: number, compression: number): Buffer {
  if (compression === 0) return bytes.subarray(start, end);
  const algorithm = compressionsAlgorithmsByBitmask[compression];
  if (algorithm === undefined)
    throw new RecordBatchError(`unknown compression (attribute bits ${compression})`);
  return algorithm.decompressSync(bytes.subarray(start, end));
}

/** Read position of `readVarint` (module state: the record walk is synchronous and not re-entrant). */
let cursor = 0;

/** Reads a zig-zag varint (or varlong, exact below 2^53) at `cursor` and moves past it. */
function readVarint(buf: Buffer): number {
  let b = buf[cursor++];
  if (b < 0x80) return (b >>> 1) ^ -(b & 1);
  let value = b & 0x7f;
  let shift = 7;
  do {
    b = buf[cursor++];
    if (b === undefined) throw new RecordBatchError('record batch ends inside a varint');
    if (shift < 28) value |= (b & 0x7f) << shift;
    else value += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b >= 0x80);
  if (shift <= 28) return (value >>> 1) ^ -(value & 1);
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

/** One record, as byte ranges in `buf` (a start of -1: absent, i.e. null). */
export type RecordVisitor = (
  buf: Buffer,
  offset: number,
  timestamp: number,
  keyStart: number,
  keyEnd: number,
  valueStart: number,
  valueEnd: number,
  headersAt: number,
) => void;

/**
 * Walks the records of one batch in order, calling `visit` with each record's offset, timestamp
 * and the byte ranges of its key and value in `buf` (the fetched bytes, or the decompressed
 * records section). `headersAt` is where the record's header count starts (see `readHeaders`).
 */
export function forEachRecord(scanned: ScannedBatches, batch: BatchView, visit: RecordVisitor): void {
  const buf = recordsOf(scanned.bytes, batch.start, batch.end, batch.compression);
  cursor = 0;
  const end = buf.length;
  for (let i = 0; i < batch.count && cursor < end; i++) {
    const length = readVarint(buf);
    const next = cursor + length;
    cursor++; // attributes (unused in v2)
    const timestampDelta = readVarint(buf);
    const offsetDelta = readVarint(buf);
    const keyLength = readVarint(buf);
    const keyStart = keyLength < 0 ? -1 : cursor;
    if (keyLength > 0) cursor += keyLength;
    const keyEnd = cursor;
    const valueLength = readVarint(buf);
    const valueStart = valueLength < 0 ? -1 : cursor;
    if (valueLength > 0) cursor += valueLength;
    const valueEnd = cursor;
    const timestamp = batch.logAppendTime ? batch.maxTimestamp : batch.baseTimestamp + timestampDelta;
    const headersAt = cursor;
    visit(buf, batch.baseOffset + offsetDelta, timestamp, keyStart, keyEnd, valueStart, valueEnd, headersAt);
    cursor = next;
  }
}

/**
 * The headers of a record as UTF-8 text by name (the last wins when a name repeats; a null
 * value stays null), read from `headersAt` as given to a `RecordVisitor`.
 */
export function readHeaders(buf: Buffer, headersAt: number): { [name: string]: string | null } {
  const saved = cursor;
  cursor = headersAt;
  const headers: { [name: string]: string | null } = {};
  const n = readVarint(buf);
  for (let i = 0; i < n; i++) {
    const nameLength = readVarint(buf);
    const name = nameLength < 0 ? null : buf.toString('utf8', cursor, cursor + nameLength);
    if (nameLength > 0) cursor += nameLength;
    const valueLength = readVarint(buf);
    const value = valueLength < 0 ? null : buf.toString('utf8', cursor, cursor + valueLength);
    if (valueLength > 0) cursor += valueLength;
    if (name !== null) headers[name] = value;
  }
  cursor = saved;
  return headers;
}
