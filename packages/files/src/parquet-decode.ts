/**
 * Records from a Parquet file: `parquet-wasm` reads it into Arrow, and each row becomes a plain
 * JSON-like object (structs as objects, lists as arrays, 64-bit integers as numbers when they fit
 * a double exactly and as text otherwise, timestamps as epoch milliseconds).
 */

import { tableFromIPC, Vector } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';

/** `value` as plain JSON-like data. */
function plain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint')
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  if (value instanceof Date) return value.getTime();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>, plain);
  if (Array.isArray(value)) return value.map(plain);
  // An Arrow list value is a Vector; a struct value a StructRow, whose toJSON is an object.
  if (value instanceof Vector) return Array.from(value as Iterable<unknown>, plain);
  const v = value as { toJSON?: () => unknown };
  const o = (typeof v.toJSON === 'function' ? v.toJSON() : value) as { [k: string]: unknown };
  const out: { [k: string]: unknown } = {};
  for (const [k, x] of Object.entries(o)) out[k] = plain(x);
  return out;
}

/** The rows of a Parquet file as records. Throws on bytes that are not Parquet. */
export function decodeParquet(bytes: Uint8Array): { [k: string]: unknown }[] {
  const table = tableFromIPC(readParquet(bytes).intoIPCStream());
  const names = table.schema.fields.map((f) => f.name);
  const columns = names.map((n) => table.getChild(n));
  const out: { [k: string]: unknown }[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const record: { [k: string]: unknown } = {};
    for (const [c, name] of names.entries()) record[name] = plain(columns[c]?.get(i));
    out.push(record);
  }
  return out;
}
