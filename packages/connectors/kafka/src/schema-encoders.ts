/**
 * Value encoders for the `kafka` sink's registry formats: a schema compiled once into a function
 * from a record to its value in the Confluent wire format (byte 0, the 4-byte big-endian schema
 * id, the payload) — the inverse of `schema-decoders.ts`, so what the sink writes the source
 * reads back as the same record.
 *
 * Avro (with `avsc`) writes the values the decoder reads:
 * - a top-level record is the record (fields the schema does not name are left out; a missing
 *   field takes its default, and fails without one); any other top-level type writes the
 *   record's `value` field;
 * - long → a number, written exactly within ±(2^53 − 1) (`ExactLongType`);
 * - bytes and fixed ← base64 text (as the decoder reads them) or a Buffer;
 * - union → the branch the value's kind selects (null, boolean, number, text, bytes, array, object);
 * - `decimal` ← text or a number with the exact digits (`"12.30"`), at most `precision` digits
 *   and `scale` after the point, never rounded;
 * - `timestamp-millis`/`-micros` (and `local-` ones) ← epoch ms/µs, or ISO-8601 text; `date` ←
 *   days since 1970-01-01, or `YYYY-MM-DD`; the other logical types ← their underlying value.
 * A record that does not fit throws a reason naming the field (`field \`amount\`: …`).
 *
 * JSON Schema: the record, validated against the schema (Ajv, as the decoder validates), as JSON
 * text; a violation throws Ajv's errors as the reason.
 */

import { describeSchemaErrors, type Row, toEpochMillis } from '@sluice/core';
import avro from 'avsc';
import {
  type AvroType,
  childrenOf,
  compileJsonSchema,
  DecimalType,
  ExactLongType,
  WIRE_HEADER,
} from './schema-decoders.ts';

/**
 * A compiled schema: a record to its value in the Confluent wire format with schema `id`.
 * Throws an Error whose message completes "the record …" when the record does not fit.
 */
export type ValueEncoder = (row: Row, id: number) => Buffer;

/** Compiles a schema (JSON text) for a sink format; throws a reason when it does not compile. */
export function schemaEncoder(format: 'avro' | 'json_schema', text: string): ValueEncoder {
  return format === 'avro' ? avroEncoder(text) : jsonSchemaEncoder(text);
}

/** The 5-byte Confluent header, written at the start of `buf`. */
function writeHeader(buf: Buffer, id: number): void {
  buf[0] = 0;
  buf.writeInt32BE(id, 1);
}

// Avro

function isLongSchema(schema: unknown): boolean {
  return (
    schema === 'long' ||
    (typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'long')
  );
}

/** Exact longs (see `ExactLongType`), the underlying type of the timestamps included. */
const exactLongs = (schema: unknown): AvroType | undefined =>
  isLongSchema(schema) ? (new ExactLongType() as AvroType) : undefined;

/** Timestamp logical types: written from epoch numbers or ISO-8601 text. */
const TIMESTAMPS: { [logicalType: string]: 'ms' | 'us' } = {
  'timestamp-millis': 'ms',
  'timestamp-micros': 'us',
  'local-timestamp-millis': 'ms',
  'local-timestamp-micros': 'us',
};

/** Longs that are not timestamps become `ExactLongType` here; timestamps get theirs underneath. */
function writerTypeHook(schema: unknown): AvroType | undefined {
  const logical = (schema as { logicalType?: unknown } | null)?.logicalType;
  if (typeof logical === 'string' && TIMESTAMPS[logical] !== undefined) return undefined;
  return exactLongs(schema);
}

/** A timestamp: an epoch number in its unit as it is, or ISO-8601 text (sub-millisecond digits kept for µs). */
class TimestampType extends avro.types.LogicalType {
  readonly unit: 'ms' | 'us';

  constructor(schema: { logicalType?: string }, opts?: object) {
    // The underlying long is an exact one.
    super(schema as never, { ...opts, typeHook: exactLongs } as never);
    this.unit = TIMESTAMPS[schema.logicalType ?? ''] ?? 'ms';
  }

  override _fromValue(value: unknown): unknown {
    return value;
  }

  override _toValue(value: unknown): number | undefined {
    if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
    let ms: number;
    let extra = 0;
    if (value instanceof Date) {
      ms = value.getTime();
    } else if (typeof value === 'string' && !/^\s*-?\d+\s*$/.test(value)) {
      // Numeric text is left out: its unit would be a guess.
      ms = toEpochMillis(value.trim());
      const fraction = /[T ]\d{2}:\d{2}:\d{2}\.\d{3}(\d{1,3})/.exec(value);
      if (fraction) extra = Number(fraction[1].padEnd(3, '0'));
    } else {
      return undefined;
    }
    if (!Number.isFinite(ms)) return undefined;
    const n = this.unit === 'ms' ? ms : ms * 1000 + extra;
    return Number.isSafeInteger(n) ? n : undefined;
  }
}

/** `date`: days since 1970-01-01 as they are, or `YYYY-MM-DD` text. */
class DateType extends avro.types.LogicalType {
  override _fromValue(value: unknown): unknown {
    return value;
  }

  override _toValue(value: unknown): number | undefined {
    if (typeof value === 'number') return value;
    if (typeof value !== 'string') return undefined;
    const m = /^\s*(\d{4})-(\d{2})-(\d{2})\s*$/.exec(value);
    if (!m) return undefined;
    const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    // Date.UTC rolls over impossible days (02-30): refuse those.
    if (new Date(ms).toISOString().slice(0, 10) !== `${m[1]}-${m[2]}-${m[3]}`) return undefined;
    return ms / 86_400_000;
  }
}

/** Compiles an Avro schema (JSON text) into a value encoder. */
export function avroEncoder(text: string): ValueEncoder {
  let type: AvroType;
  try {
    type = avro.Type.forSchema(JSON.parse(text), {
      wrapUnions: 'never',
      omitRecordMethods: true,
      typeHook: writerTypeHook as never,
      logicalTypes: {
        decimal: DecimalType as never,
        date: DateType as never,
        ...Object.fromEntries(Object.keys(TIMESTAMPS).map((name) => [name, TimestampType as never])),
      },
    });
  } catch (err) {
    throw new Error(`is not an Avro schema Sluice can write: ${(err as Error).message}`);
  }
  const prepare = preparer(type, new Map());
  const isRecord = type.typeName === 'record' || type.typeName === 'error';
  let scratch = Buffer.allocUnsafe(1024);
  return (row, id) => {
    const value = isRecord ? row : row.value;
    if (value === undefined) {
      throw new Error(
        "has no field `value` (the schema's top-level type is not a record: format avro writes that field)",
      );
    }
    const prepared = prepare === null ? value : prepare(value);
    let end: number;
    try {
      for (;;) {
        end = type.encode(prepared, scratch, WIRE_HEADER);
        if (end >= 0) break;
        scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
      }
    } catch (err) {
      throw new Error(mismatch(type, prepared, isRecord, err as Error));
    }
    const out = Buffer.allocUnsafe(end);
    writeHeader(out, id);
    scratch.copy(out, WIRE_HEADER, WIRE_HEADER, end);
    return out;
  };
}

/** Why `value` does not fit `type`: the first few misfits, each naming its field. */
function mismatch(type: AvroType, value: unknown, isRecord: boolean, err: Error): string {
  const problems: string[] = [];
  try {
    type.isValid(value, {
      errorHook: (path: string[], v: unknown, t: AvroType) => {
        if (problems.length < 3) problems.push(misfit(isRecord ? path : ['value', ...path], v, t));
      },
    });
  } catch (checkErr) {
    problems.push((checkErr as Error).message);
  }
  if (problems.length === 0) problems.push(err.message);
  return `does not match the Avro schema: ${problems.join('; ')}`;
}

function misfit(path: readonly string[], v: unknown, t: AvroType): string {
  const field = path.length === 0 ? 'the record' : `field \`${path.join('.')}\``;
  if (v === undefined) return `${field} is missing (and the schema gives it no default)`;
  return `${field}: ${show(v)} ${expected(t)}`;
}

/** What a type takes, for messages: "is not an int (…)". */
function expected(t: AvroType): string {
  const name = t.typeName;
  const u = t as unknown as {
    precision?: number;
    scale?: number;
    size?: number;
    symbols?: string[];
    unit?: string;
    types?: AvroType[];
    name?: string;
  };
  switch (name) {
    case 'logical:decimal':
      return (
        `is not a decimal of at most ${u.precision} digits, ${u.scale} after the point ` +
        '(text such as "12.30", or a number; never rounded)'
      );
    case 'logical:date':
      return 'is not a date (days since 1970-01-01, or YYYY-MM-DD text)';
    case 'int':
      return 'is not an int (a whole number within ±2^31)';
    case 'long':
      return 'is not a long (a whole number within ±(2^53 − 1))';
    case 'float':
    case 'double':
      return `is not a number (${name})`;
    case 'string':
      return 'is not text';
    case 'boolean':
      return 'is not true or false';
    case 'null':
      return 'is not null';
    case 'bytes':
      return 'is not bytes (base64 text)';
    case 'fixed':
      return `is not ${u.size} bytes (base64 text)`;
    case 'enum':
      return `is not one of the symbols ${(u.symbols ?? []).join(', ')}`;
    case 'record':
    case 'error':
    case 'map':
      return `is not an object (${name}${u.name ? ` ${u.name}` : ''})`;
    case 'array':
      return 'is not an array';
    default:
      if (name.startsWith('logical:timestamp') || name.startsWith('logical:local-timestamp')) {
        return `is not a timestamp (epoch ${u.unit === 'us' ? 'microseconds' : 'milliseconds'}, or ISO-8601 text)`;
      }
      if (name.startsWith('union')) {
        const branches = (u.types ?? []).map((b) => (b as { name?: string }).name ?? b.typeName);
        return `matches none of the union's branches ${branches.join(' | ')}`;
      }
      return `is not a valid ${name}`;
  }
}

function show(v: unknown): string {
  if (Buffer.isBuffer(v)) return `${v.length} bytes`;
  let text: string;
  try {
    text = typeof v === 'bigint' ? String(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    text = String(v);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

type Prep = (v: unknown) => unknown;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Bytes from base64 text (what the decoder reads bytes as) or a Uint8Array; anything else as it is. */
const toBytes: Prep = (v) => {
  if (typeof v === 'string') return BASE64.test(v) ? Buffer.from(v, 'base64') : v;
  if (v instanceof Uint8Array && !Buffer.isBuffer(v))
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
};

function isObject(v: unknown): v is { [k: string]: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * What turns a record's value into the one avsc writes (bytes and fixed from base64), copying
 * what it changes and never the caller's objects in place; null when nothing under `t` needs it.
 */
function preparer(t: AvroType, memo: Map<AvroType, Prep | null>): Prep | null {
  if (memo.has(t)) return memo.get(t) ?? null;
  const name = t.typeName;
  if (name === 'bytes' || name === 'fixed') return toBytes;
  // Decimals take text, timestamps and dates their own values; the others their underlying one.
  if (name.startsWith('logical:')) return null;
  if (!needsPrep(t, new Set())) {
    memo.set(t, null);
    return null;
  }
  if (name === 'record' || name === 'error') {
    const fields = (t as unknown as { fields: { name: string; type: AvroType }[] }).fields;
    const preps: [string, Prep][] = [];
    const fn: Prep = (v) => {
      if (!isObject(v)) return v;
      const out = { ...v };
      for (const [k, p] of preps) if (out[k] !== undefined) out[k] = p(out[k]);
      return out;
    };
    memo.set(t, fn);
    for (const f of fields) {
      const p = preparer(f.type, memo);
      if (p) preps.push([f.name, p]);
    }
    return fn;
  }
  if (name === 'array') {
    const p = preparer(childrenOf(t)[0], memo)!;
    return (v) => (Array.isArray(v) ? v.map(p) : v);
  }
  if (name === 'map') {
    const p = preparer(childrenOf(t)[0], memo)!;
    return (v) => {
      if (!isObject(v)) return v;
      const out: { [k: string]: unknown } = {};
      for (const k in v) out[k] = p(v[k]);
      return out;
    };
  }
  if (name.startsWith('union')) {
    // One branch per kind of value (avsc refuses the others), as the decoder's fixer assumes.
    let bytes: Prep | null = null;
    let array: Prep | null = null;
    let object: Prep | null = null;
    let takesText = false;
    for (const b of childrenOf(t)) {
      const bn = b.typeName;
      if (bn === 'string' || bn === 'enum' || bn.startsWith('logical:')) takesText = true;
      const p = preparer(b, memo);
      if (!p) continue;
      if (bn === 'bytes' || bn === 'fixed') bytes = p;
      else if (bn === 'array') array = p;
      else object = p;
    }
    // Text is bytes only when no branch takes text as it is.
    const text = takesText ? null : bytes;
    return (v) => {
      if (typeof v === 'string') return text ? text(v) : v;
      if (v instanceof Uint8Array) return bytes ? bytes(v) : v;
      if (Array.isArray(v)) return array ? array(v) : v;
      if (isObject(v)) return object ? object(v) : v;
      return v;
    };
  }
  return null;
}

function needsPrep(t: AvroType, seen: Set<AvroType>): boolean {
  if (seen.has(t)) return false;
  seen.add(t);
  const name = t.typeName;
  if (name === 'bytes' || name === 'fixed') return true;
  if (name.startsWith('logical:')) return false;
  return childrenOf(t).some((c) => needsPrep(c, seen));
}

// JSON Schema

/** Compiles a JSON Schema (JSON text) into a value encoder that validates, then writes JSON text. */
export function jsonSchemaEncoder(text: string): ValueEncoder {
  const check = compileJsonSchema(text);
  return (row, id) => {
    if (!check(row)) throw new Error(`does not match the JSON Schema: ${describeSchemaErrors(check.errors)}`);
    let json: string;
    try {
      json = JSON.stringify(row);
    } catch (err) {
      throw new Error(`cannot be written as JSON: ${(err as Error).message}`);
    }
    const out = Buffer.allocUnsafe(WIRE_HEADER + Buffer.byteLength(json));
    writeHeader(out, id);
    out.write(json, WIRE_HEADER, 'utf8');
    return out;
  };
}
