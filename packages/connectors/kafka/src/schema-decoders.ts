/**
 * Value decoders for registry formats: a registered schema compiled once into a function from
 * the payload bytes (after the 5-byte Confluent header) to a row.
 *
 * Avro (with `avsc`) decodes to plain JSON-compatible values:
 * - null, boolean, int, float, double, string → themselves; enum → its symbol (a string);
 * - long → a number; a long outside ±(2^53 − 1) fails the record (no silent precision loss);
 * - bytes and fixed → base64 text (as the `bytes` format does);
 * - record → a plain object; array → an array; map → an object;
 * - union → the value of the branch written (unwrapped; null for the null branch). A union whose
 *   branches a JSON value cannot tell apart (int and long, two records, a record and a map,
 *   string and enum, bytes and fixed) is not supported: its records fail;
 * - logical types → their underlying value (`timestamp-millis` → epoch ms, `date` → days since
 *   1970-01-01, `uuid` → the string, `time-micros` → microseconds, …), except `decimal` → a
 *   string with the exact decimal (`"-12.30"`).
 * A top-level record is the row; any other top-level value `v` becomes `{ value: v }`.
 *
 * JSON Schema: the payload is JSON text; it must be an object and must validate against the
 * registered schema (Ajv, compiled once per schema id; drafts 06 and 07). A violation fails the
 * record with Ajv's errors as the reason.
 */

import { createRecordValidator, describeSchemaErrors, type Row } from '@sluice/core';
import avro from 'avsc';
import type { RegisteredSchema } from './schema-registry.ts';

/** A compiled schema: payload bytes `[start, end)` of `buf` to a row; throws a reason on failure. */
export type ValueDecoder = (buf: Buffer, start: number, end: number) => Row;

/** Bytes of the Confluent wire-format header: magic byte 0 and a 4-byte big-endian schema id. */
export const WIRE_HEADER = 5;

/**
 * The schema id of a Confluent-framed value in `buf[start, end)`, or -1 when the value is not
 * in that format (too short, or a first byte other than 0).
 */
export function wireSchemaId(buf: Buffer, start: number, end: number): number {
  if (end - start < WIRE_HEADER || buf[start] !== 0) return -1;
  return buf.readInt32BE(start + 1);
}

/** `schemaType` names the registry uses for each format. */
const REGISTRY_TYPE = { avro: 'AVRO', json_schema: 'JSON' } as const;

/** A compiler of registered schemas for a source format. */
export function schemaCompiler(format: 'avro' | 'json_schema'): (schema: RegisteredSchema) => ValueDecoder {
  return (schema) => {
    const expected = REGISTRY_TYPE[format];
    if (schema.type !== expected) {
      throw new Error(
        `is registered as ${schema.type}, but the source's format ${format} reads ${expected} schemas`,
      );
    }
    if (schema.references.length > 0) {
      throw new Error('uses schema references, which the kafka source does not support yet');
    }
    return format === 'avro' ? avroDecoder(schema.schema) : jsonSchemaDecoder(schema.schema);
  };
}

// Avro

export type AvroType = InstanceType<typeof avro.Type>;
type Fixer = (v: unknown) => unknown;

/**
 * `long`, read and written exactly: avsc's own reader and writer compute the zig-zag varint in
 * floating point, which flips the sign of some negative longs beyond −2^52 (both ways) without
 * noticing. This one keeps the low bits apart, so every long within ±(2^53 − 1) is exact;
 * reading throws for the rest, writing accepts safe integers only.
 */
export class ExactLongType extends avro.types.LongType {
  _check(val: unknown, _flags: unknown, hook?: (val: unknown, type: unknown) => void): boolean {
    const ok = Number.isSafeInteger(val);
    if (!ok && hook) hook(val, this);
    return ok;
  }

  _write(tap: { buf: Buffer; pos: number }, val: unknown): void {
    if (!Number.isSafeInteger(val)) throw new Error(`invalid "long": ${String(val)}`);
    const n = val as number;
    // Zig-zag is 2m + bit with m = n (bit 0) or −n − 1 (bit 1): its low 7 bits come from m's
    // low 6, the rest is ⌊m / 64⌋ — all exact in floating point for m < 2^53.
    const m = n >= 0 ? n : -n - 1;
    let rest = Math.floor(m / 64);
    const buf = tap.buf;
    let pos = tap.pos;
    buf[pos++] = ((m % 64) * 2 + (n >= 0 ? 0 : 1)) | (rest > 0 ? 0x80 : 0);
    while (rest > 0) {
      const low = rest % 128;
      rest = Math.floor(rest / 128);
      buf[pos++] = low | (rest > 0 ? 0x80 : 0);
    }
    tap.pos = pos;
  }

  _read(tap: { buf: Buffer; pos: number }): number {
    const buf = tap.buf;
    let pos = tap.pos;
    let b = buf[pos++];
    let lo = b & 0x7f;
    let shift = 7;
    while (b & 0x80 && shift < 28) {
      b = buf[pos++];
      lo |= (b & 0x7f) << shift;
      shift += 7;
    }
    // The varint is lo + hi * 2^28; zig-zag: the magnitude is half of it, odd ones are negative.
    let hi = 0;
    let scale = 1;
    while (b & 0x80) {
      b = buf[pos++];
      hi += (b & 0x7f) * scale;
      scale *= 128;
    }
    tap.pos = pos;
    const half = hi * 134_217_728 + (lo >>> 1);
    const n = lo & 1 ? -half - 1 : half;
    if (!Number.isSafeInteger(n)) throw new Error(LONG_OUT_OF_RANGE);
    return n;
  }
}

const LONG_OUT_OF_RANGE = 'has a long outside ±(2^53 − 1), which a number cannot hold exactly';

/** Longs (logical ones included: their underlying value) read by `ExactLongType`. */
function exactLongs(schema: unknown): AvroType | undefined {
  const isLong =
    schema === 'long' ||
    (typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'long');
  return isLong ? (new ExactLongType() as AvroType) : undefined;
}

/**
 * `decimal` as a string with the exact digits (from bytes or fixed: a big-endian two's
 * complement). Written from such a string or a number written without an exponent; a value with
 * more digits than `precision`, more than `scale` after the point, or too large for the fixed
 * size is invalid.
 */
export class DecimalType extends avro.types.LogicalType {
  readonly scale: number;
  readonly precision: number;
  /** Bytes of the underlying fixed; undefined for bytes. */
  readonly size: number | undefined;

  constructor(schema: { scale?: number; precision?: number; type?: unknown; size?: number }, opts?: unknown) {
    super(schema as never, opts);
    this.scale = typeof schema.scale === 'number' ? schema.scale : 0;
    this.precision = typeof schema.precision === 'number' ? schema.precision : Number.POSITIVE_INFINITY;
    this.size = schema.type === 'fixed' && typeof schema.size === 'number' ? schema.size : undefined;
  }

  override _fromValue(buf: Buffer): string {
    return decimalText(buf, this.scale);
  }

  override _toValue(value: unknown): Buffer | undefined {
    let text: string;
    if (typeof value === 'string') text = value;
    else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
    else return undefined;
    const m = /^\s*-?0*(\d*?)(?:\.(\d+))?\s*$/.exec(text);
    if (!m || m[1].length + Math.max(this.scale, m[2]?.length ?? 0) > this.precision) return undefined;
    let bytes: Buffer;
    try {
      bytes = decimalBytes(text, this.scale);
    } catch {
      return undefined;
    }
    if (this.size === undefined || bytes.length === this.size) return bytes;
    if (bytes.length > this.size) return undefined;
    // Sign-extended to the fixed size.
    const out = Buffer.alloc(this.size, bytes[0] & 0x80 ? 0xff : 0);
    bytes.copy(out, this.size - bytes.length);
    return out;
  }
}

/** The decimal written as `unscaled` two's-complement big-endian bytes, with `scale` digits after the point. */
export function decimalText(buf: Buffer, scale: number): string {
  if (buf.length === 0) return '0';
  let n = BigInt(`0x${buf.toString('hex')}`);
  if (buf[0] & 0x80) n -= 1n << BigInt(buf.length * 8);
  const negative = n < 0n;
  let digits = (negative ? -n : n).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return negative ? `-${digits}` : digits;
}

/** The inverse of `decimalText` (for encoding): minimal two's-complement bytes. */
export function decimalBytes(text: string, scale: number): Buffer {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not a decimal number`);
  const frac = (m[3] ?? '').padEnd(scale, '0');
  if (frac.length > scale) throw new Error(`'${text}' has more than ${scale} digits after the point`);
  let n = BigInt(m[2] + frac);
  if (m[1]) n = -n;
  let len = 1;
  while (n < -(1n << BigInt(len * 8 - 1)) || n >= 1n << BigInt(len * 8 - 1)) len++;
  const unsigned = n < 0n ? n + (1n << BigInt(len * 8)) : n;
  return Buffer.from(unsigned.toString(16).padStart(len * 2, '0'), 'hex');
}

/** Compiles an Avro schema (JSON text) into a value decoder. */
export function avroDecoder(text: string): ValueDecoder {
  let type: AvroType;
  try {
    type = avro.Type.forSchema(JSON.parse(text), {
      wrapUnions: 'never',
      omitRecordMethods: true,
      typeHook: exactLongs as never,
      logicalTypes: { decimal: DecimalType as never },
    });
  } catch (err) {
    throw new Error(`is not an Avro schema Sluice can decode: ${(err as Error).message}`);
  }
  makeRecordsPlain(type, new Set());
  const fix = fixer(type, new Map());
  const isRecord = type.typeName === 'record' || type.typeName === 'error';
  return (buf, start, end) => {
    let decoded: { value: unknown; offset: number };
    try {
      decoded = type.decode(buf, start);
    } catch (err) {
      const message = (err as Error).message;
      throw new Error(
        message === LONG_OUT_OF_RANGE ? message : `is not valid Avro for its schema: ${message}`,
      );
    }
    if (decoded.offset < 0 || decoded.offset > end)
      throw new Error('is truncated Avro (it ends before its schema)');
    if (decoded.offset < end)
      throw new Error(`is not valid Avro for its schema: ${end - decoded.offset} bytes left over`);
    const value = fix === null ? decoded.value : fix(decoded.value);
    return isRecord ? (value as Row) : { value };
  };
}

/** Children of an Avro type (record fields, items, values, branches, the underlying type). */
export function childrenOf(t: AvroType): AvroType[] {
  const u = t as unknown as {
    fields?: { type: AvroType }[];
    itemsType?: AvroType;
    valuesType?: AvroType;
    types?: AvroType[];
    underlyingType?: AvroType;
  };
  if (u.fields) return u.fields.map((f) => f.type);
  if (u.itemsType) return [u.itemsType];
  if (u.valuesType) return [u.valuesType];
  if (u.types) return u.types;
  if (u.underlyingType) return [u.underlyingType];
  return [];
}

/**
 * Records decode as plain objects: avsc builds them with a generated constructor, whose
 * prototype (no methods, with `omitRecordMethods`) becomes Object.prototype — no copy per record.
 */
function makeRecordsPlain(t: AvroType, seen: Set<AvroType>): void {
  if (seen.has(t)) return;
  seen.add(t);
  if (t.typeName === 'record' || t.typeName === 'error') {
    (t as unknown as { recordConstructor: { prototype: object } }).recordConstructor.prototype =
      Object.prototype;
  }
  for (const c of childrenOf(t)) makeRecordsPlain(c, seen);
}

const base64: Fixer = (v) => (v as Buffer).toString('base64');

/**
 * What turns a decoded value into JSON-compatible data in place (bytes and fixed → base64),
 * or null when nothing under `t` needs it. Recursive named types are handled through `memo`.
 */
function fixer(t: AvroType, memo: Map<AvroType, Fixer | null>): Fixer | null {
  // A record met again (recursive types included: its fixer is in the memo before its fields).
  if (memo.has(t)) return memo.get(t) ?? null;
  const name = t.typeName;
  if (name === 'bytes' || name === 'fixed') return base64;
  if (name.startsWith('logical:')) return name === 'logical:decimal' ? null : fixer(childrenOf(t)[0], memo);
  if (name === 'record' || name === 'error') {
    if (!needsFix(t, new Set())) {
      memo.set(t, null);
      return null;
    }
    const fields = (t as unknown as { fields: { name: string; type: AvroType }[] }).fields;
    const fixes: [string, Fixer][] = [];
    const fn: Fixer = (v) => {
      const r = v as { [k: string]: unknown };
      for (let i = 0; i < fixes.length; i++) {
        const [k, f] = fixes[i];
        r[k] = f(r[k]);
      }
      return r;
    };
    memo.set(t, fn);
    for (const f of fields) {
      const ff = fixer(f.type, memo);
      if (ff) fixes.push([f.name, ff]);
    }
    return fn;
  }
  if (name === 'array') {
    const f = fixer(childrenOf(t)[0], memo);
    if (!f) return null;
    return (v) => {
      const a = v as unknown[];
      for (let i = 0; i < a.length; i++) a[i] = f(a[i]);
      return a;
    };
  }
  if (name === 'map') {
    const f = fixer(childrenOf(t)[0], memo);
    if (!f) return null;
    return (v) => {
      const m = v as { [k: string]: unknown };
      for (const k in m) m[k] = f(m[k]);
      return m;
    };
  }
  if (name.startsWith('union')) {
    // Unwrapped: at most one branch per kind of JS value, so the value tells the branch.
    let buffer: Fixer | null = null;
    let array: Fixer | null = null;
    let object: Fixer | null = null;
    for (const b of childrenOf(t)) {
      const bn = b.typeName;
      const f = fixer(b, memo);
      if (!f) continue;
      if (bn === 'bytes' || bn === 'fixed') buffer = f;
      else if (bn === 'array') array = f;
      else object = f;
    }
    if (!buffer && !array && !object) return null;
    return (v) => {
      if (v === null || typeof v !== 'object') return v;
      if (Buffer.isBuffer(v)) return buffer ? buffer(v) : v;
      if (Array.isArray(v)) return array ? array(v) : v;
      return object ? object(v) : v;
    };
  }
  return null;
}

function needsFix(t: AvroType, seen: Set<AvroType>): boolean {
  if (seen.has(t)) return false;
  seen.add(t);
  const name = t.typeName;
  if (name === 'bytes' || name === 'fixed') return true;
  if (name === 'logical:decimal') return false;
  return childrenOf(t).some((c) => needsFix(c, seen));
}

// JSON Schema

/** A validator of a JSON Schema (JSON text); throws (permanently) when it does not compile. */
export function compileJsonSchema(
  text: string,
): ReturnType<ReturnType<typeof createRecordValidator>['compile']> {
  try {
    // One Ajv instance per schema: versions of a subject often repeat the same `$id`, and two
    // sinks may use schemas with the same `$id`.
    return createRecordValidator().compile(JSON.parse(text) as object);
  } catch (err) {
    throw new Error(`is not a JSON Schema Sluice can compile: ${(err as Error).message}`);
  }
}

/** Compiles a JSON Schema (JSON text) into a value decoder that parses and validates. */
export function jsonSchemaDecoder(text: string): ValueDecoder {
  const check = compileJsonSchema(text);
  return (buf, start, end) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(buf.toString('utf8', start, end));
    } catch (err) {
      throw new Error(`is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      const kind = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
      throw new Error(`is ${kind}, not a JSON object`);
    }
    if (!check(parsed)) throw new Error(`does not match its schema: ${describeSchemaErrors(check.errors)}`);
    return parsed as Row;
  };
}
