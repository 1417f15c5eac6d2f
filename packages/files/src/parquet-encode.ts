/**
 * Parquet objects from JSON records: an Arrow schema inferred from the records of one object,
 * an Arrow table, and `parquet-wasm` (the Rust `parquet` crate in WebAssembly) to write it with
 * compression and column statistics.
 */

import {
  Bool,
  type DataType,
  Field,
  Float64,
  Int64,
  List,
  Struct,
  Table,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';

/** The compression codecs the `parquet` format offers. */
export type ParquetCompression = 'zstd' | 'snappy' | 'gzip' | 'none';

const codecs: { [C in ParquetCompression]: Compression } = {
  zstd: Compression.ZSTD,
  snappy: Compression.SNAPPY,
  gzip: Compression.GZIP,
  none: Compression.UNCOMPRESSED,
};

/**
 * A column type inferred from JSON values, or `text`: values of mixed kinds, written as text
 * (strings as they are, anything else as its JSON).
 */
type Inferred =
  | { kind: 'bool' | 'int' | 'float' | 'string' | 'text' }
  | { kind: 'list'; item: Inferred }
  | { kind: 'struct'; fields: [string, Inferred][] };

const isObject = (v: unknown): v is { [k: string]: unknown } =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The type that holds every value of `values` (nulls and missing values aside). */
export function inferType(values: readonly unknown[]): Inferred {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return { kind: 'string' };
  if (present.every((v) => typeof v === 'boolean')) return { kind: 'bool' };
  if (present.every((v) => typeof v === 'number'))
    return present.every((v) => Number.isSafeInteger(v)) ? { kind: 'int' } : { kind: 'float' };
  if (present.every((v) => typeof v === 'string')) return { kind: 'string' };
  if (present.every(Array.isArray)) return { kind: 'list', item: inferType((present as unknown[][]).flat()) };
  if (present.every(isObject)) return { kind: 'struct', fields: inferFields(present) };
  return { kind: 'text' };
}

/** The fields of objects, in the order they first appear, each with the type of its values. */
function inferFields(objects: readonly { [k: string]: unknown }[]): [string, Inferred][] {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const o of objects)
    for (const k of Object.keys(o))
      if (!seen.has(k)) {
        seen.add(k);
        names.push(k);
      }
  return names.map((name) => [name, inferType(objects.map((o) => o[name]))]);
}

function arrowType(t: Inferred): DataType {
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

/** `value` as Arrow takes it for a column of type `t`. */
function arrowValue(value: unknown, t: Inferred): unknown {
  if (value === null || value === undefined) return null;
  switch (t.kind) {
    case 'int':
      return BigInt(value as number);
    case 'text':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'list':
      return (value as unknown[]).map((v) => arrowValue(v, t.item));
    case 'struct': {
      const o = value as { [k: string]: unknown };
      const out: { [k: string]: unknown } = {};
      for (const [name, f] of t.fields) out[name] = arrowValue(o[name], f);
      return out;
    }
    default:
      return value;
  }
}

/**
 * A Parquet file of `records` (JSON objects): one column per top-level field, nested objects as
 * structs and arrays as lists, integers as INT64, other numbers as DOUBLE; a field whose values
 * are of mixed kinds is written as text. Column statistics are on (the writer's default).
 */
export function encodeParquet(
  records: readonly { [k: string]: unknown }[],
  compression: ParquetCompression,
): Uint8Array {
  const columns: { [name: string]: Vector } = {};
  for (const [name, t] of inferFields(records))
    columns[name] = vectorFromArray(
      records.map((r) => arrowValue(r[name], t)),
      arrowType(t),
    );
  const table = new Table(columns);
  const wasm = WasmTable.fromIPCStream(tableToIPC(table, 'stream'));
  const properties = new WriterPropertiesBuilder().setCompression(codecs[compression]).build();
  return writeParquet(wasm, properties);
}
