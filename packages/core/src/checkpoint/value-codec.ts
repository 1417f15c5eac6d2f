/**
 * The value encoding of checkpoint format version 2: a documented binary form of plain state that
 * any Node version (or any other language) reads back, unlike `v8.serialize`.
 *
 * A value is one tag byte followed by the tag's body. Fixed-size numbers are little-endian; a
 * length or count `n` is an unsigned LEB128 varint below 2³² (7 bits a byte, low bits first, the
 * high bit set on every byte but the last: 5 → `05`, 300 → `ac 02`).
 *
 * | tag  | value | body |
 * |------|-------|------|
 * | 0x00 | `undefined` | — |
 * | 0x01 | `null` | — |
 * | 0x02 | `false` | — |
 * | 0x03 | `true` | — |
 * | 0x04 | integer number in [-2³¹, 2³¹) other than -0 | int32 |
 * | 0x05 | any other number (fractions, large integers, -0, NaN, ±Infinity) | float64 (IEEE 754) |
 * | 0x06 | bigint | n, n ASCII bytes: the decimal digits, `-` first when negative |
 * | 0x07 | string | n, n bytes of UTF-8 |
 * | 0x08 | string of ASCII characters only | n, n bytes, each < 0x80 |
 * | 0x09 | string with an unpaired surrogate (not representable in UTF-8) | n, n UTF-16LE code units (2n bytes) |
 * | 0x10 | array | n, n values |
 * | 0x11 | plain object | n, n × (key: a string value, tag 0x07–0x09; value) |
 * | 0x12 | Map | n, n × (key value, value) in insertion order |
 * | 0x13 | Set | n, n values in insertion order |
 * | 0x14 | Date | float64 epoch milliseconds (NaN for an invalid date) |
 * | 0x15 | typed array, Buffer or DataView | u8 kind, n, n bytes: the elements, little-endian |
 * | 0x16 | ArrayBuffer | n, n bytes |
 *
 * Kinds of tag 0x15: 1 Int8Array, 2 Uint8Array, 3 Uint8ClampedArray, 4 Int16Array, 5 Uint16Array,
 * 6 Int32Array, 7 Uint32Array, 8 Float32Array, 9 Float64Array, 10 BigInt64Array,
 * 11 BigUint64Array, 12 Buffer, 13 DataView (its bytes as they are).
 *
 * What is not stored as it was: an array's holes and its non-index properties (a hole reads back
 * as `undefined`), an object's symbol-keyed and non-enumerable properties, and identity (a value
 * reachable twice is written twice and reads back as two equal values). Refused with the reason,
 * so that the caller can name the path: functions, symbols, instances of any other class
 * (including subclasses of Map, Set and the typed arrays, WeakMap, Promise, Error, RegExp, URL) —
 * they would come back as something else — and nesting deeper than the depth limit (which is also
 * how a cycle ends). Encoding and decoding recurse, one stack frame per level.
 */

/** Thrown by {@link encodeValue} when a value cannot be stored; the caller finds its path. */
export class UnstorableValueError extends Error {
  override readonly name = 'UnstorableValueError';
}

/** Thrown by {@link decodeValue} on bytes that are not a value; `offset` is where it went wrong. */
export class MalformedValueError extends Error {
  override readonly name = 'MalformedValueError';
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at payload byte ${offset}`);
    this.offset = offset;
  }
}

const T_UNDEFINED = 0x00;
const T_NULL = 0x01;
const T_FALSE = 0x02;
const T_TRUE = 0x03;
const T_INT32 = 0x04;
const T_FLOAT64 = 0x05;
const T_BIGINT = 0x06;
const T_UTF8 = 0x07;
const T_ASCII = 0x08;
const T_UTF16 = 0x09;
const T_ARRAY = 0x10;
const T_OBJECT = 0x11;
const T_MAP = 0x12;
const T_SET = 0x13;
const T_DATE = 0x14;
const T_VIEW = 0x15;
const T_ARRAY_BUFFER = 0x16;

type ViewConstructor = {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): ArrayBufferView;
};

/** The kinds of tag 0x15, indexed by kind; Buffer (12) and DataView (13) are handled apart. */
const VIEW_KINDS: readonly (ViewConstructor | undefined)[] = [
  undefined,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];
const KIND_BUFFER = 12;
const KIND_DATA_VIEW = 13;

/** The kind of each storable view prototype; a subclass has another prototype and is refused. */
const VIEW_KIND_OF = new Map<object, number>([
  ...VIEW_KINDS.flatMap((ctor, kind): [object, number][] => (ctor ? [[ctor.prototype, kind]] : [])),
  [Buffer.prototype, KIND_BUFFER],
  [DataView.prototype, KIND_DATA_VIEW],
]);

/** Whether this machine stores numbers little-endian (every platform Node ships for but s390x). */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Strings this short are written and ASCII-checked in a JavaScript loop; longer ones natively. */
const SHORT_STRING = 48;

/**
 * Why `value` itself cannot be stored (its contents aside), or undefined when it can. Shared with
 * the path finder (`state-path.ts`) so both refuse exactly the same values.
 */
export function unstorableReason(value: unknown): string | undefined {
  const type = typeof value;
  if (type === 'function') return 'a function';
  if (type === 'symbol') return 'a symbol';
  if (type !== 'object' || value === null || Array.isArray(value)) return undefined;
  const proto: unknown = Object.getPrototypeOf(value);
  if (
    proto === Object.prototype ||
    proto === null ||
    proto === Map.prototype ||
    proto === Set.prototype ||
    proto === Date.prototype ||
    proto === ArrayBuffer.prototype ||
    (proto !== null && VIEW_KIND_OF.has(proto as object))
  ) {
    return undefined;
  }
  const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
  const name = typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'an anonymous class';
  return `an instance of ${name} (a class instance would restore as something else)`;
}

/** One growing buffer the encoder writes into. */
class Writer {
  buf: Buffer;
  view: DataView;
  pos: number;
  readonly maxDepth: number;
  /** Where `encodeValue` notes the sizes of the parts it was asked to measure (see there). */
  readonly sizes: PartSizes | undefined;
  /** The key of the top-level object being written, while `sizes` is set. */
  part = '';

  constructor(capacity: number, start: number, maxDepth: number, sizes?: PartSizes) {
    this.sizes = sizes;
    this.buf = Buffer.allocUnsafe(capacity);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = start;
    this.maxDepth = maxDepth;
  }

  ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  /** Writes a tag and a varint `n` (the caller has ensured 6 bytes). */
  head(tag: number, n: number): void {
    this.buf[this.pos++] = tag;
    this.varint(n);
  }

  /** Writes `n` as an unsigned LEB128 varint (the caller has ensured 5 bytes). */
  varint(n: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (n >= 0x80) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'string':
        this.string(v);
        return;
      case 'number':
        this.number(v);
        return;
      case 'boolean':
        this.ensure(1);
        this.buf[this.pos++] = v ? T_TRUE : T_FALSE;
        return;
      case 'undefined':
        this.ensure(1);
        this.buf[this.pos++] = T_UNDEFINED;
        return;
      case 'bigint':
        this.bigint(v);
        return;
      case 'object':
        if (v === null) {
          this.ensure(1);
          this.buf[this.pos++] = T_NULL;
          return;
        }
        if (depth >= this.maxDepth)
          throw new UnstorableValueError(`nested deeper than ${this.maxDepth} levels`);
        this.object(v, depth + 1);
        return;
      default:
        throw new UnstorableValueError(unstorableReason(v) ?? `a ${typeof v}`);
    }
  }

  /** The entries of the top-level object (depth 1) or of one of its parts (depth 2), sizes noted. */
  #measured(record: { [key: string]: unknown }, keys: string[], depth: number, sizes: PartSizes): void {
    const part = depth === 2 ? sizes[this.part] : undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      this.string(key);
      if (depth === 1) this.part = key;
      const start = this.pos;
      this.value(record[key], depth);
      if (part !== undefined) part[key] = (part[key] ?? 0) + this.pos - start;
    }
    if (depth === 1) this.part = '';
  }

  number(v: number): void {
    this.ensure(9);
    const pos = this.pos;
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      this.buf[pos] = T_INT32;
      this.view.setInt32(pos + 1, v, true);
      this.pos = pos + 5;
    } else {
      this.buf[pos] = T_FLOAT64;
      this.view.setFloat64(pos + 1, v, true);
      this.pos = pos + 9;
    }
  }

  bigint(v: bigint): void {
    const text = v.toString();
    this.ensure(6 + text.length);
    this.head(T_BIGINT, text.length);
    this.buf.write(text, this.pos, 'latin1');
    this.pos += text.length;
  }

  string(s: string): void {
    const n = s.length;
    if (n <= SHORT_STRING) {
      this.ensure(6 + n);
      const at = this.pos;
      this.head(T_ASCII, n);
      const buf = this.buf;
      const start = this.pos;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      if (i === n) {
        this.pos = start + n;
        return;
      }
      this.pos = at;
    }
    if (!s.isWellFormed()) {
      this.ensure(6 + 2 * n);
      this.head(T_UTF16, n);
      this.pos += this.buf.write(s, this.pos, 'utf16le');
      return;
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.ensure(6 + bytes);
    this.head(bytes === n ? T_ASCII : T_UTF8, bytes);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  object(v: object, depth: number): void {
    if (Array.isArray(v)) {
      const n = v.length;
      this.ensure(6);
      this.head(T_ARRAY, n);
      for (let i = 0; i < n; i++) this.value(v[i], depth);
      return;
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      const record = v as { [key: string]: unknown };
      const keys = Object.keys(record);
      const n = keys.length;
      this.ensure(6);
      this.head(T_OBJECT, n);
      const sizes = this.sizes;
      if (sizes !== undefined && depth <= 2) {
        this.#measured(record, keys, depth, sizes);
        return;
      }
      for (let i = 0; i < n; i++) {
        const key = keys[i];
        this.string(key);
        this.value(record[key], depth);
      }
      return;
    }
    if (proto === Map.prototype) {
      const map = v as Map<unknown, unknown>;
      this.ensure(6);
      this.head(T_MAP, map.size);
      map.forEach((value, key) => {
        this.value(key, depth);
        this.value(value, depth);
      });
      return;
    }
    if (proto === Set.prototype) {
      const set = v as Set<unknown>;
      this.ensure(6);
      this.head(T_SET, set.size);
      set.forEach((value) => {
        this.value(value, depth);
      });
      return;
    }
    if (proto === Date.prototype) {
      this.ensure(9);
      this.buf[this.pos] = T_DATE;
      this.view.setFloat64(this.pos + 1, (v as Date).getTime(), true);
      this.pos += 9;
      return;
    }
    if (proto === ArrayBuffer.prototype) {
      const bytes = new Uint8Array(v as ArrayBuffer);
      this.ensure(6 + bytes.length);
      this.head(T_ARRAY_BUFFER, bytes.length);
      this.buf.set(bytes, this.pos);
      this.pos += bytes.length;
      return;
    }
    const kind = proto === null ? undefined : VIEW_KIND_OF.get(proto as object);
    if (kind === undefined) throw new UnstorableValueError(unstorableReason(v) ?? 'not storable');
    const view = v as ArrayBufferView;
    const n = view.byteLength;
    this.ensure(7 + n);
    this.buf[this.pos++] = T_VIEW;
    this.buf[this.pos++] = kind;
    this.varint(n);
    const bytes = new Uint8Array(view.buffer, view.byteOffset, n);
    this.buf.set(bytes, this.pos);
    const size = kind < KIND_BUFFER ? (VIEW_KINDS[kind] as ViewConstructor).BYTES_PER_ELEMENT : 1;
    if (!LITTLE_ENDIAN_HOST && size > 1) swapBytes(this.buf, this.pos, n, size);
    this.pos += n;
  }
}

/** Reverses the bytes of each `size`-byte element in place (host order ↔ little-endian). */
export function swapBytes(bytes: Uint8Array, start: number, length: number, size: number): void {
  for (let at = start; at < start + length; at += size) {
    for (let lo = at, hi = at + size - 1; lo < hi; lo++, hi--) {
      const b = bytes[lo];
      bytes[lo] = bytes[hi];
      bytes[hi] = b;
    }
  }
}

/** What {@link encodeValue} returns: the bytes and where the value starts in them. */
export interface EncodedValue {
  /** Bytes 0 to `start` are left for the caller (a header); the value fills `start` to the end. */
  bytes: Buffer;
  start: number;
}

/** Capacity of the first buffer of the next encode: the last encode's size, so steady-state checkpoints rarely grow. */
let capacityHint = 64 * 1024;

/**
 * Encoded sizes of the entries of some parts of a plain object: `{ operators: {} }` asks for the
 * bytes of each entry of `value.operators` (`{ operators: { agg: 1234 } }`), added to what is
 * there. Only plain objects are measured, two levels deep.
 */
export type PartSizes = { [part: string]: { [key: string]: number } };

/**
 * Encodes `value` after `reserve` bytes left for the caller. Synchronous: the value is read as it
 * is at the call. Throws {@link UnstorableValueError} on a value the format cannot carry
 * (see the module comment) or on containers nested `maxDepth` deep. With `sizes`, notes the
 * encoded size of each entry of the parts it names as it writes them (see {@link PartSizes}).
 */
export function encodeValue(
  value: unknown,
  reserve: number,
  maxDepth: number,
  sizes?: PartSizes,
): EncodedValue {
  const writer = new Writer(Math.max(capacityHint, reserve + 64), reserve, maxDepth, sizes);
  writer.value(value, 0);
  capacityHint = Math.min(Math.ceil(writer.pos * 1.1) + 4096, 1 << 30);
  return { bytes: writer.buf.subarray(0, writer.pos), start: reserve };
}

/** Reads values back; every read checks the bytes it needs are there. */
class Reader {
  readonly u8: Uint8Array;
  readonly buf: Buffer;
  readonly view: DataView;
  readonly end: number;
  readonly maxDepth: number;
  pos = 0;

  constructor(bytes: Uint8Array, maxDepth: number) {
    this.u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.end = bytes.byteLength;
    this.maxDepth = maxDepth;
  }

  need(bytes: number, what: string): void {
    if (this.pos + bytes > this.end) {
      throw new MalformedValueError(
        `${what} needs ${bytes} bytes but only ${this.end - this.pos} remain (truncated or a wrong length)`,
        this.pos,
      );
    }
  }

  /** An unsigned LEB128 varint below 2³². */
  varint(): number {
    const at = this.pos;
    let n = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      this.need(1, 'a length');
      const b = this.u8[this.pos++];
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        if (n > 0xffff_ffff) break;
        return n;
      }
    }
    throw new MalformedValueError('a length that is not a varint below 2^32', at);
  }

  /** A count of items each at least `minBytes` long: more than the remaining bytes can hold is corrupt. */
  count(minBytes: number, what: string): number {
    const at = this.pos;
    const n = this.varint();
    if (n * minBytes > this.end - this.pos) {
      throw new MalformedValueError(`${what} of ${n} items is longer than the remaining bytes`, at);
    }
    return n;
  }

  value(depth: number): unknown {
    this.need(1, 'a value');
    const at = this.pos;
    const tag = this.u8[this.pos++];
    switch (tag) {
      case T_UNDEFINED:
        return undefined;
      case T_NULL:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_INT32: {
        this.need(4, 'an int32');
        const v = this.view.getInt32(this.pos, true);
        this.pos += 4;
        return v;
      }
      case T_FLOAT64: {
        this.need(8, 'a float64');
        const v = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        return v;
      }
      case T_BIGINT: {
        const n = this.varint();
        this.need(n, 'a bigint');
        const text = this.buf.toString('latin1', this.pos, this.pos + n);
        if (!/^-?\d+$/.test(text))
          throw new MalformedValueError(`a bigint spelled "${text.slice(0, 40)}"`, at);
        this.pos += n;
        return BigInt(text);
      }
      case T_UTF8:
      case T_ASCII:
      case T_UTF16:
        this.pos = at;
        return this.string();
      default:
        if (depth >= this.maxDepth)
          throw new MalformedValueError(`nested deeper than ${this.maxDepth} levels`, at);
        return this.container(tag, at, depth + 1);
    }
  }

  string(): string {
    this.need(1, 'a string');
    const at = this.pos;
    const tag = this.u8[this.pos++];
    const n = this.varint();
    if (tag === T_ASCII) {
      this.need(n, 'a string');
      const start = this.pos;
      this.pos += n;
      return this.buf.toString('latin1', start, this.pos);
    }
    if (tag === T_UTF8) {
      this.need(n, 'a string');
      const start = this.pos;
      this.pos += n;
      return this.buf.toString('utf8', start, this.pos);
    }
    if (tag === T_UTF16) {
      this.need(2 * n, 'a string');
      const start = this.pos;
      this.pos += 2 * n;
      return this.buf.toString('utf16le', start, this.pos);
    }
    throw new MalformedValueError(`tag 0x${hex(tag)} where a string key was expected`, at);
  }

  container(tag: number, at: number, depth: number): unknown {
    switch (tag) {
      case T_ARRAY: {
        const n = this.count(1, 'an array');
        const out: unknown[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value(depth);
        return out;
      }
      case T_OBJECT: {
        const n = this.count(2, 'an object');
        const out: { [key: string]: unknown } = {};
        for (let i = 0; i < n; i++) {
          const key = this.string();
          const value = this.value(depth);
          if (key === '__proto__') {
            Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
          } else {
            out[key] = value;
          }
        }
        return out;
      }
      case T_MAP: {
        const n = this.count(2, 'a Map');
        const out = new Map<unknown, unknown>();
        for (let i = 0; i < n; i++) {
          const key = this.value(depth);
          out.set(key, this.value(depth));
        }
        return out;
      }
      case T_SET: {
        const n = this.count(1, 'a Set');
        const out = new Set<unknown>();
        for (let i = 0; i < n; i++) out.add(this.value(depth));
        return out;
      }
      case T_DATE: {
        this.need(8, 'a Date');
        const ms = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        return new Date(ms);
      }
      case T_ARRAY_BUFFER: {
        const n = this.varint();
        this.need(n, 'an ArrayBuffer');
        const copy = this.u8.slice(this.pos, this.pos + n);
        this.pos += n;
        return copy.buffer;
      }
      case T_VIEW:
        return this.typedArray(at);
      default:
        throw new MalformedValueError(`unknown tag 0x${hex(tag)}`, at);
    }
  }

  typedArray(at: number): unknown {
    this.need(1, 'a typed array');
    const kind = this.u8[this.pos++];
    const n = this.varint();
    this.need(n, 'a typed array');
    const copy = this.u8.slice(this.pos, this.pos + n);
    this.pos += n;
    if (kind === KIND_BUFFER) return Buffer.from(copy.buffer, 0, n);
    if (kind === KIND_DATA_VIEW) return new DataView(copy.buffer, 0, n);
    const ctor = VIEW_KINDS[kind];
    if (ctor === undefined) throw new MalformedValueError(`unknown typed array kind ${kind}`, at);
    const size = ctor.BYTES_PER_ELEMENT;
    if (n % size !== 0) {
      throw new MalformedValueError(
        `a typed array of ${n} bytes, not a multiple of its ${size}-byte elements`,
        at,
      );
    }
    if (!LITTLE_ENDIAN_HOST && size > 1) swapBytes(copy, 0, n, size);
    return new ctor(copy.buffer, 0, n / size);
  }
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

/**
 * Decodes the one value `bytes` holds. Throws {@link MalformedValueError} on an unknown tag or
 * kind, a length or count beyond the bytes, a bigint that is not decimal digits, nesting deeper
 * than `maxDepth`, or bytes left over after the value.
 */
export function decodeValue(bytes: Uint8Array, maxDepth: number): unknown {
  const reader = new Reader(bytes, maxDepth);
  const value = reader.value(0);
  if (reader.pos !== reader.end) {
    throw new MalformedValueError(`${reader.end - reader.pos} bytes follow the value`, reader.pos);
  }
  return value;
}
