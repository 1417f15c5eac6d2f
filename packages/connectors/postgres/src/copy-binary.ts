/**
 * COPY's binary format for the `postgres` sink's appends: the rows as the server stores them
 * (an 8-byte integer, an IEEE double, UTF-8 text), so neither side turns numbers into text and
 * back — what most of the text format's cost was (docs/benchmarks.md).
 *
 * A table whose every column has a binary writer here is written in binary; any other in text.
 * A value a writer cannot put exactly as the text format would have it stored (a string in a
 * `bigint` column, a fraction in an `integer` one) makes the rows it is in go as text instead,
 * so the server parses it — or refuses it with its own reason — as before: the binary form is
 * only ever a faster way to the same stored values.
 */

import { columnText } from './encode.ts';

/** The file header: signature, flags (no OIDs) and header-extension length. */
export const BINARY_HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
]);
/** The file trailer: a field count of -1. */
export const BINARY_TRAILER = Buffer.from([0xff, 0xff]);

const TWO_32 = 4_294_967_296;
const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

/** Rows in COPY's binary format, into a buffer that grows as needed. */
export class BinaryRows {
  #buffer: Buffer;
  #at = 0;

  constructor(capacity = 64 * 1024) {
    this.#buffer = Buffer.allocUnsafe(capacity);
  }

  /** The bytes written so far (a view of the buffer, valid until the next write). */
  get bytes(): Buffer {
    return this.#buffer.subarray(0, this.#at);
  }

  /** Forgets what was written, keeping the buffer. */
  reset(): void {
    this.#at = 0;
  }

  /** Where the next byte goes; `rewind` goes back there (a row given up half way). */
  get position(): number {
    return this.#at;
  }

  rewind(position: number): void {
    this.#at = position;
  }

  #room(n: number): Buffer {
    if (this.#at + n > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#at + n));
      this.#buffer.copy(grown, 0, 0, this.#at);
      this.#buffer = grown;
    }
    return this.#buffer;
  }

  /** A row's field count. */
  fields(count: number): void {
    this.#room(2).writeInt16BE(count, this.#at);
    this.#at += 2;
  }

  /** SQL NULL: a field length of -1. */
  null(): void {
    this.#room(4).writeInt32BE(-1, this.#at);
    this.#at += 4;
  }

  int16(value: number): void {
    const b = this.#room(6);
    b.writeInt32BE(2, this.#at);
    b.writeInt16BE(value, this.#at + 4);
    this.#at += 6;
  }

  int32(value: number): void {
    const b = this.#room(8);
    b.writeInt32BE(4, this.#at);
    b.writeInt32BE(value, this.#at + 4);
    this.#at += 8;
  }

  /** An integer of at most 53 bits, as a 64-bit one (two 32-bit halves: no BigInt on the way). */
  int64(value: number): void {
    const b = this.#room(12);
    const high = Math.floor(value / TWO_32);
    b.writeInt32BE(8, this.#at);
    b.writeInt32BE(high, this.#at + 4);
    b.writeUInt32BE(value - high * TWO_32, this.#at + 8);
    this.#at += 12;
  }

  bigint64(value: bigint): void {
    const b = this.#room(12);
    b.writeInt32BE(8, this.#at);
    b.writeBigInt64BE(value, this.#at + 4);
    this.#at += 12;
  }

  float64(value: number): void {
    const b = this.#room(12);
    b.writeInt32BE(8, this.#at);
    b.writeDoubleBE(value, this.#at + 4);
    this.#at += 12;
  }

  bool(value: boolean): void {
    const b = this.#room(5);
    b.writeInt32BE(1, this.#at);
    b[this.#at + 4] = value ? 1 : 0;
    this.#at += 5;
  }

  /** UTF-8 text, after `prefix` bytes (jsonb's version byte). */
  text(value: string, prefix?: number): void {
    const extra = prefix === undefined ? 0 : 1;
    // At most 3 bytes per UTF-16 unit; the length is written once the text is.
    const b = this.#room(4 + extra + value.length * 3);
    const start = this.#at + 4;
    if (prefix !== undefined) b[start] = prefix;
    const length = extra + b.write(value, start + extra, 'utf8');
    b.writeInt32BE(length, this.#at);
    this.#at = start + length;
  }
}

/**
 * Writes one non-null value of a column; false when the value has no binary form that stores
 * what its text form would (the rows then go as text).
 */
type FieldWriter = (rows: BinaryRows, value: unknown) => boolean;

const int64: FieldWriter = (rows, v) => {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) return false;
    rows.int64(v);
    return true;
  }
  if (typeof v === 'bigint' && v >= INT8_MIN && v <= INT8_MAX) {
    rows.bigint64(v);
    return true;
  }
  return false;
};

const int32: FieldWriter = (rows, v) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -2_147_483_648 || v > 2_147_483_647) return false;
  rows.int32(v);
  return true;
};

const int16: FieldWriter = (rows, v) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -32_768 || v > 32_767) return false;
  rows.int16(v);
  return true;
};

const float64: FieldWriter = (rows, v) => {
  if (typeof v !== 'number') return false;
  // The text form of -0 is "0", which the server stores as +0.
  rows.float64(v === 0 ? 0 : v);
  return true;
};

const bool: FieldWriter = (rows, v) => {
  if (typeof v !== 'boolean') return false;
  rows.bool(v);
  return true;
};

/** text, varchar, char and json take their text form as it is; the server applies the length limit. */
const text: FieldWriter = (rows, v) => {
  rows.text(typeof v === 'string' ? v : (columnText(v, 'other') ?? ''));
  return true;
};

/** jsonb's binary form is a version byte (1) before the text. */
const jsonb: FieldWriter = (rows, v) => {
  rows.text(typeof v === 'string' ? v : (columnText(v, 'other') ?? ''), 1);
  return true;
};

/**
 * The binary writer of a column of `type` (as `format_type` prints it), or undefined for a type
 * written as text (numeric, dates and times, arrays, uuid, real, …).
 */
export function fieldWriter(type: string): FieldWriter | undefined {
  switch (type) {
    case 'bigint':
      return int64;
    case 'integer':
      return int32;
    case 'smallint':
      return int16;
    case 'double precision':
      return float64;
    case 'boolean':
      return bool;
    case 'text':
    case 'json':
    case 'character varying':
      return text;
    case 'jsonb':
      return jsonb;
    default:
      return /^character(?: varying)?\(\d+\)$/.test(type) ? text : undefined;
  }
}

/**
 * The records at `indexes` (their fields `names`, written by `writers`) in binary into `rows`,
 * after what it holds; false — `rows` as it was — when a value has no binary form.
 */
export function writeBinaryRows(
  rows: BinaryRows,
  records: readonly { [field: string]: unknown }[],
  indexes: readonly number[],
  names: readonly string[],
  writers: readonly FieldWriter[],
): boolean {
  const start = rows.position;
  const n = names.length;
  for (const i of indexes) {
    const record = records[i];
    rows.fields(n);
    for (let c = 0; c < n; c++) {
      const value = record[names[c]];
      if (value === undefined || value === null) rows.null();
      else if (!writers[c](rows, value)) {
        rows.rewind(start);
        return false;
      }
    }
  }
  return true;
}

export type { FieldWriter };
