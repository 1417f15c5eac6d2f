/**
 * Arrow columns built record by record as a file's records arrive, so that finishing a Parquet
 * file needs neither its JSON lines parsed again nor a converted copy of its records: each field
 * fills typed arrays (numbers, booleans, UTF-8 bytes and offsets, list offsets, validity), and a
 * field's type is settled by the values seen, as `inferType` would settle it over the whole file.
 *
 * A builder refuses (and is given up) what it cannot hold as that inference would: values of two
 * kinds in one field (a text column), an object that never holds a field, and values JSON does
 * not keep as they are (a non-finite number, a function, a Date or other object with a prototype
 * of its own). The file is then encoded from its JSON lines instead, as before.
 */

import { Bool, type Data, Field, Float64, Int64, List, makeData, Struct, Utf8 } from 'apache-arrow';
import type { Inferred } from './parquet-columns.ts';

const NONE = 0;
const BOOL = 1;
const NUMBER = 2;
const STRING = 4;
const ARRAY = 8;
const OBJECT = 16;

function grow<T extends Uint8Array | Int32Array | Float64Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const next = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2, 64));
  next.set(a);
  return next;
}

/** A bitmap of the bytes `flags` (non-zero: bit set) for the first `length` of them. */
function bitmap(flags: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array((length + 7) >> 3);
  for (let i = 0; i < length; i++) if (flags[i] !== 0) out[i >> 3] = (out[i >> 3] as number) | (1 << (i & 7));
  return out;
}

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** One column (a top-level field, a struct's field or a list's items) being built. */
class Column {
  kind = NONE;
  length: number;
  nulls: number;
  /** A byte per row: 1 present, 0 absent. */
  valid = new Uint8Array(0);
  /** Every number so far is a safe integer. */
  integers = true;
  numbers = new Float64Array(0);
  /** Booleans, a byte per row. */
  flags = new Uint8Array(0);
  /** Strings: UTF-8 bytes; strings and lists: offsets (row `i` is `offsets[i]…offsets[i+1]`). */
  bytes: Buffer = Buffer.alloc(0);
  used = 0;
  offsets = new Int32Array(1);
  item: Column | undefined;
  fields: Map<string, Column> | undefined;
  /** The fields' names and columns in the order they first appeared (what most records repeat). */
  names: string[] = [];
  columns: Column[] = [];

  /** A column whose first `length` rows are absent. */
  constructor(length: number) {
    this.length = length;
    this.nulls = length;
  }

  /** Appends `value`; false when the column cannot hold it (see the module's comment). */
  append(value: unknown): boolean {
    if (value === null || value === undefined) {
      this.appendNull();
      return true;
    }
    let kind: number;
    switch (typeof value) {
      case 'boolean':
        kind = BOOL;
        break;
      case 'number':
        if (!Number.isFinite(value)) return false;
        kind = NUMBER;
        break;
      case 'string':
        kind = STRING;
        break;
      case 'object':
        if (Array.isArray(value)) kind = ARRAY;
        else if (isPlainObject(value)) kind = OBJECT;
        else return false;
        break;
      default:
        return false;
    }
    if (this.kind !== kind) {
      if (this.kind !== NONE) return false;
      this.kind = kind;
    }
    const row = this.length;
    this.valid = grow(this.valid, row + 1);
    this.valid[row] = 1;
    switch (kind) {
      case BOOL:
        this.flags = grow(this.flags, row + 1);
        this.flags[row] = value === true ? 1 : 0;
        break;
      case NUMBER: {
        const n = value as number;
        if (this.integers && !Number.isSafeInteger(n)) this.integers = false;
        this.numbers = grow(this.numbers, row + 1);
        this.numbers[row] = n + 0; // JSON writes -0 as 0
        break;
      }
      case STRING:
        this.#appendString(value as string, row);
        break;
      case ARRAY: {
        if (this.item === undefined) this.item = new Column(0);
        const item = this.item;
        for (const v of value as unknown[]) if (!item.append(v)) return false;
        this.offsets = grow(this.offsets, row + 2);
        this.offsets[row + 1] = item.length;
        break;
      }
      case OBJECT:
        this.length = row + 1;
        return this.#appendFields(value as { [k: string]: unknown }, row);
    }
    this.length = row + 1;
    return true;
  }

  appendNull(): void {
    const row = this.length;
    this.length = row + 1;
    this.nulls++;
    this.valid = grow(this.valid, row + 1);
    this.valid[row] = 0;
    if (this.kind === STRING || this.kind === ARRAY) {
      this.offsets = grow(this.offsets, row + 2);
      this.offsets[row + 1] = this.kind === STRING ? this.used : (this.offsets[row] as number);
    } else if (this.kind === OBJECT) for (const f of this.columns) f.appendNull();
  }

  #appendString(s: string, row: number): void {
    // A UTF-16 unit is at most 3 bytes of UTF-8.
    if (this.used + s.length * 3 > this.bytes.length) {
      const next = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + s.length * 3, 1024));
      this.bytes.copy(next, 0, 0, this.used);
      this.bytes = next;
    }
    this.used += this.bytes.write(s, this.used);
    this.offsets = grow(this.offsets, row + 2);
    this.offsets[row + 1] = this.used;
  }

  /**
   * Appends the fields of `o` as row `row`; the fields it lacks are absent. A field is looked up
   * by name only when it is not where it was in the first record that had it.
   */
  #appendFields(o: { [k: string]: unknown }, row: number): boolean {
    if (this.fields === undefined) this.fields = new Map();
    const { fields, names, columns } = this;
    let j = 0;
    for (const k in o) {
      let f = names[j] === k ? columns[j] : fields.get(k);
      if (f === undefined) {
        f = new Column(row);
        fields.set(k, f);
        names.push(k);
        columns.push(f);
      }
      j++;
      if (!f.append(o[k])) return false;
    }
    // Each key filled a column of its own: fewer keys than columns left some unfilled.
    if (j < columns.length) for (const f of columns) if (f.length === row) f.appendNull();
    return true;
  }

  /** The column's type and Arrow data, or undefined for a type a builder cannot write (text). */
  build(): { type: Inferred; data: Data } | undefined {
    const length = this.length;
    // Rows appended while the column held only absent values have no slots yet.
    this.numbers = grow(this.numbers, length);
    this.flags = grow(this.flags, length);
    this.offsets = grow(this.offsets, length + 1);
    const nullCount = this.nulls;
    const nullBitmap = nullCount > 0 ? bitmap(this.valid, length) : undefined;
    switch (this.kind) {
      case NONE:
        return {
          type: { kind: 'string' },
          data: makeData({
            type: new Utf8(),
            length,
            nullCount,
            nullBitmap,
            valueOffsets: new Int32Array(length + 1),
            data: new Uint8Array(0),
          }),
        };
      case BOOL:
        return {
          type: { kind: 'bool' },
          data: makeData({
            type: new Bool(),
            length,
            nullCount,
            nullBitmap,
            data: bitmap(this.flags, length),
          }),
        };
      case NUMBER:
        return this.integers
          ? {
              type: { kind: 'int' },
              data: makeData({ type: new Int64(), length, nullCount, nullBitmap, data: this.#int64s() }),
            }
          : {
              type: { kind: 'float' },
              data: makeData({
                type: new Float64(),
                length,
                nullCount,
                nullBitmap,
                data: this.numbers.slice(0, length),
              }),
            };
      case STRING:
        return {
          type: { kind: 'string' },
          data: makeData({
            type: new Utf8(),
            length,
            nullCount,
            nullBitmap,
            valueOffsets: this.offsets.slice(0, length + 1),
            data: this.bytes.subarray(0, this.used),
          }),
        };
      case ARRAY: {
        const item = (this.item ?? new Column(0)).build();
        if (item === undefined) return undefined;
        return {
          type: { kind: 'list', item: item.type },
          data: makeData({
            type: new List(new Field('item', item.data.type, true)),
            length,
            nullCount,
            nullBitmap,
            valueOffsets: this.offsets.slice(0, length + 1),
            child: item.data,
          }),
        };
      }
      default: {
        const built = buildFields(this.fields);
        if (built === undefined || built.length === 0) return undefined;
        return {
          type: { kind: 'struct', fields: built.map(([name, b]) => [name, b.type]) },
          data: makeData({
            type: new Struct(built.map(([name, b]) => new Field(name, b.data.type, true))),
            length,
            nullCount,
            nullBitmap,
            children: built.map(([, b]) => b.data),
          }),
        };
      }
    }
  }

  /** The numbers as 64-bit integers, written as two 32-bit halves (no BigInt per value). */
  #int64s(): BigInt64Array {
    const words = new Int32Array(this.length * 2);
    for (let i = 0; i < this.length; i++) {
      const v = this.numbers[i] as number;
      words[2 * i] = v | 0;
      words[2 * i + 1] = Math.floor(v / 4294967296);
    }
    return new BigInt64Array(words.buffer);
  }
}

function buildFields(
  fields: Map<string, Column> | undefined,
): [string, { type: Inferred; data: Data }][] | undefined {
  const out: [string, { type: Inferred; data: Data }][] = [];
  for (const [name, column] of fields ?? []) {
    const built = column.build();
    if (built === undefined) return undefined;
    out.push([name, built]);
  }
  return out;
}

/**
 * The columns of one Parquet file, built as its records are added: one per top-level field in
 * the order the fields first appear. Once a record is refused the builder is spent (`add`
 * returns false from then on) and the caller encodes the file another way.
 */
export class ParquetColumnsBuilder {
  readonly #top = new Column(0);
  #spent = false;

  /** Adds a record; false when the builder cannot hold it (nor, from then on, the file). */
  add(record: unknown): boolean {
    if (this.#spent) return false;
    if (typeof record !== 'object' || record === null || Array.isArray(record) || !this.#top.append(record))
      this.#spent = true;
    return !this.#spent;
  }

  /** The columns by name, or undefined when the builder was spent or a column needs text. */
  build(): { [name: string]: Data } | undefined {
    if (this.#spent) return undefined;
    const built = buildFields(this.#top.fields);
    if (built === undefined) return undefined;
    const columns: { [name: string]: Data } = {};
    for (const [name, b] of built) columns[name] = b.data;
    return columns;
  }
}
