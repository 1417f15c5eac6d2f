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

/** A double's bytes, read in the machine's order (`LITTLE_ENDIAN`) and written big-endian. */
const DOUBLE = new Float64Array(1);
const DOUBLE_BYTES = new Uint8Array(DOUBLE.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Text up to this many UTF-16 units is written by a loop while it is ASCII, longer text by Buffer#write. */
const SHORT = 64;

/**
 * Rows in COPY's binary format, into a buffer that grows as needed. Its integers are written
 * byte by byte rather than by `Buffer#writeInt32BE` and its kin, whose argument checks were the
 * largest part of the encoding's profile, and short ASCII text by a loop rather than a call into
 * the binding (the same as `Buffer#write` for it, without the call's cost).
 */
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
    const b = this.#room(2);
    const at = this.#at;
    b[at] = count >>> 8;
    b[at + 1] = count;
    this.#at = at + 2;
  }

  /** SQL NULL: a field length of -1. */
  null(): void {
    put32(this.#room(4), this.#at, -1);
    this.#at += 4;
  }

  int16(value: number): void {
    const b = this.#room(6);
    const at = this.#at;
    put32(b, at, 2);
    b[at + 4] = value >>> 8;
    b[at + 5] = value;
    this.#at = at + 6;
  }

  int32(value: number): void {
    const b = this.#room(8);
    put32(b, this.#at, 4);
    put32(b, this.#at + 4, value);
    this.#at += 8;
  }

  /** An integer of at most 53 bits, as a 64-bit one (two 32-bit halves: no BigInt on the way). */
  int64(value: number): void {
    const b = this.#room(12);
    const high = Math.floor(value / TWO_32);
    const at = this.#at;
    put32(b, at, 8);
    put32(b, at + 4, high);
    put32(b, at + 8, value - high * TWO_32);
    this.#at = at + 12;
  }

  bigint64(value: bigint): void {
    const b = this.#room(12);
    put32(b, this.#at, 8);
    b.writeBigInt64BE(value, this.#at + 4);
    this.#at += 12;
  }

  float64(value: number): void {
    const b = this.#room(12);
    const at = this.#at;
    put32(b, at, 8);
    DOUBLE[0] = value;
    if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) b[at + 4 + i] = DOUBLE_BYTES[7 - i] as number;
    else for (let i = 0; i < 8; i++) b[at + 4 + i] = DOUBLE_BYTES[i] as number;
    this.#at = at + 12;
  }

  bool(value: boolean): void {
    const b = this.#room(5);
    put32(b, this.#at, 1);
    b[this.#at + 4] = value ? 1 : 0;
    this.#at += 5;
  }

  /** UTF-8 text, after `prefix` bytes (jsonb's version byte). */
  text(value: string, prefix?: number): void {
    const extra = prefix === undefined ? 0 : 1;
    const n = value.length;
    // At most 3 bytes per UTF-16 unit; the length is written once the text is.
    const b = this.#room(4 + extra + n * 3);
    const start = this.#at + 4;
    if (prefix !== undefined) b[start] = prefix;
    const body = start + extra;
    let length = -1;
    if (n <= SHORT) {
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        b[body + i] = c;
      }
      if (i === n) length = extra + n;
    }
    if (length < 0) length = extra + b.write(value, body, 'utf8');
    put32(b, this.#at, length);
    this.#at = start + length;
  }
}

/** A 32-bit integer (signed or not: the same bytes) big-endian at `at`. */
function put32(b: Buffer, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
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
