/**
 * Arrow columns from JSON records, built column by column into typed arrays: one pass over the
 * values infers each column's type (the schema of one file), a second writes each column's
 * buffers directly — no per-value builder calls, no converted copy of the records.
 */

import {
  Bool,
  type Data,
  type DataType,
  Field,
  Float64,
  Int64,
  List,
  makeData,
  Struct,
  Utf8,
} from 'apache-arrow';

/**
 * A column type inferred from JSON values, or `text`: values of mixed kinds, written as text
 * (strings as they are, anything else as its JSON).
 */
export type Inferred =
  | { kind: 'bool' | 'int' | 'float' | 'string' | 'text' }
  | { kind: 'list'; item: Inferred }
  | { kind: 'struct'; fields: [string, Inferred][] };

const BOOL = 1;
const NUMBER = 2;
const STRING = 4;
const ARRAY = 8;
const OBJECT = 16;

/** What one pass has seen of a column's values: their kinds, and the same of nested values. */
interface Seen {
  /** The kinds present, a mask of `BOOL` … `OBJECT`. */
  kinds: number;
  /** Every number so far is a safe integer. */
  integers: boolean;
  /** The items of the arrays, when there were arrays. */
  item: Seen | undefined;
  /** The fields of the objects in the order they first appear, when there were objects. */
  fields: Map<string, Seen> | undefined;
}

const seen = (): Seen => ({ kinds: 0, integers: true, item: undefined, fields: undefined });

function observe(s: Seen, value: unknown): void {
  switch (typeof value) {
    case 'boolean':
      s.kinds |= BOOL;
      return;
    case 'number':
      s.kinds |= NUMBER;
      if (s.integers && !Number.isSafeInteger(value)) s.integers = false;
      return;
    case 'string':
      s.kinds |= STRING;
      return;
    case 'object':
      if (value === null) return;
      if (Array.isArray(value)) {
        s.kinds |= ARRAY;
        if (s.item === undefined) s.item = seen();
        for (const v of value) observe(s.item, v);
      } else {
        s.kinds |= OBJECT;
        if (s.fields === undefined) s.fields = new Map();
        observeFields(s.fields, value as { [k: string]: unknown });
      }
      return;
    default:
      // undefined: missing, like null. Other kinds never come from JSON.
      if (value !== undefined) s.kinds |= STRING | OBJECT;
  }
}

function observeFields(fields: Map<string, Seen>, o: { [k: string]: unknown }): void {
  for (const k in o) {
    let f = fields.get(k);
    if (f === undefined) {
      f = seen();
      fields.set(k, f);
    }
    observe(f, o[k]);
  }
}

function resolve(s: Seen | undefined): Inferred {
  switch (s?.kinds ?? 0) {
    case 0:
    case STRING:
      return { kind: 'string' };
    case BOOL:
      return { kind: 'bool' };
    case NUMBER:
      return { kind: s?.integers ? 'int' : 'float' };
    case ARRAY:
      return { kind: 'list', item: resolve(s?.item) };
    case OBJECT: {
      // Parquet has no struct without fields: objects that never hold a field are text ("{}").
      const fields = resolveFields(s?.fields);
      return fields.length === 0 ? { kind: 'text' } : { kind: 'struct', fields };
    }
    default:
      return { kind: 'text' };
  }
}

const resolveFields = (fields: Map<string, Seen> | undefined): [string, Inferred][] =>
  fields === undefined ? [] : [...fields].map(([name, s]) => [name, resolve(s)]);

/** The type that holds every value of `values` (nulls and missing values aside). */
export function inferType(values: readonly unknown[]): Inferred {
  const s = seen();
  for (const v of values) observe(s, v);
  return resolve(s);
}

/**
 * The columns of `records`: every top-level field in the order it first appears, each with the
 * type of its values.
 */
export function inferColumns(records: readonly { [k: string]: unknown }[]): [string, Inferred][] {
  const fields = new Map<string, Seen>();
  for (const r of records) observeFields(fields, r);
  return resolveFields(fields);
}

/** The Arrow type of an inferred column. */
export function arrowType(t: Inferred): DataType {
  switch (t.kind) {
    case 'bool':
      return new Bool();
    case 'int':
      return new Int64();
    case 'float':
      return new Float64();
    case 'string':
    case 'text':
      return new Utf8();
    case 'list':
      return new List(new Field('item', arrowType(t.item), true));
    case 'struct':
      return new Struct(t.fields.map(([name, f]) => new Field(name, arrowType(f), true)));
  }
}

/** A validity bitmap of `values` (bit set: present), or none when every value is present. */
function validity(values: readonly unknown[]): { nullCount: number; nullBitmap: Uint8Array | undefined } {
  let nullCount = 0;
  for (const v of values) if (v === null || v === undefined) nullCount++;
  if (nullCount === 0) return { nullCount, nullBitmap: undefined };
  const nullBitmap = new Uint8Array((values.length + 7) >> 3);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) nullBitmap[i >> 3] = (nullBitmap[i >> 3] as number) | (1 << (i & 7));
  }
  return { nullCount, nullBitmap };
}

/** 64-bit integers from safe-integer numbers, written as two 32-bit halves (no BigInt per value). */
function int64s(values: readonly unknown[]): BigInt64Array {
  const words = new Int32Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number') continue;
    words[2 * i] = v | 0;
    words[2 * i + 1] = Math.floor(v / 4294967296);
  }
  return new BigInt64Array(words.buffer);
}

function float64s(values: readonly unknown[]): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'number') out[i] = v;
  }
  return out;
}

function bools(values: readonly unknown[]): Uint8Array {
  const out = new Uint8Array((values.length + 7) >> 3);
  for (let i = 0; i < values.length; i++)
    if (values[i] === true) out[i >> 3] = (out[i >> 3] as number) | (1 << (i & 7));
  return out;
}

/**
 * UTF-8 bytes and offsets of `strings` (`null` for an absent value, an empty slot), each written
 * into one buffer sized by the strings' UTF-16 length and grown when a string may not fit.
 */
function utf8s(strings: readonly (string | null)[]): { valueOffsets: Int32Array; data: Uint8Array } {
  const n = strings.length;
  const valueOffsets = new Int32Array(n + 1);
  let units = 0;
  for (const s of strings) if (s !== null) units += s.length;
  let data = Buffer.allocUnsafe(units + (units >> 3) + 64);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const s = strings[i];
    if (s) {
      // A UTF-16 unit is at most 3 bytes of UTF-8.
      if (at + s.length * 3 > data.length) {
        const grown = Buffer.allocUnsafe(Math.max(data.length * 2, at + s.length * 3));
        data.copy(grown, 0, 0, at);
        data = grown;
      }
      at += data.write(s, at);
    }
    valueOffsets[i + 1] = at;
  }
  return { valueOffsets, data: data.subarray(0, at) };
}

/** A text column's value: strings as they are, anything else as its JSON. */
const asText = (v: unknown): string | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v);

const asString = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * The Arrow data of a column of type `t` (inferred from `values`, so every present value is of
 * its kind) holding `values`; `null` and `undefined` are absent values.
 */
export function columnData(t: Inferred, values: readonly unknown[]): Data {
  const length = values.length;
  switch (t.kind) {
    case 'int':
      return makeData({ type: new Int64(), length, ...validity(values), data: int64s(values) });
    case 'float':
      return makeData({ type: new Float64(), length, ...validity(values), data: float64s(values) });
    case 'bool':
      return makeData({ type: new Bool(), length, ...validity(values), data: bools(values) });
    case 'string':
    case 'text': {
      const strings = values.map(t.kind === 'text' ? asText : asString);
      return makeData({ type: new Utf8(), length, ...validity(strings), ...utf8s(strings) });
    }
    case 'list': {
      const valueOffsets = new Int32Array(length + 1);
      const items: unknown[] = [];
      for (let i = 0; i < length; i++) {
        const v = values[i];
        if (Array.isArray(v)) for (const x of v) items.push(x);
        valueOffsets[i + 1] = items.length;
      }
      const type = arrowType(t) as List;
      const child = columnData(t.item, items);
      return makeData({ type, length, ...validity(values), valueOffsets, child });
    }
    case 'struct': {
      const children = t.fields.map(([name, f]) =>
        columnData(
          f,
          values.map((v) =>
            v === null || v === undefined ? undefined : (v as { [k: string]: unknown })[name],
          ),
        ),
      );
      return makeData({ type: arrowType(t) as Struct, length, ...validity(values), children });
    }
  }
}
