/**
 * Record values to and from CQL values: what the driver gets for a column of a given type, and
 * what a read row holds as plain record values.
 */

import type { Row } from '@sluice/core';
import cassandra from 'cassandra-driver';

const t = cassandra.types.dataTypes;
const TEXT = new Set<number>([t.text, t.varchar, t.ascii]);
const INTEGER = new Set<number>([t.int, t.smallint, t.tinyint]);
const BIG = new Set<number>([t.bigint, t.counter, t.varint]);
const FLOAT = new Set<number>([t.double, t.float]);

/** A column's type as the table's metadata gives it. */
export interface ColumnType {
  readonly code: number;
  readonly info?: unknown;
}

/**
 * The value the driver gets for `value` in a column of `type`, converting only where no
 * information is lost: a date or number for a `timestamp`, text that is a number for a number
 * column, an object or array for a text column as JSON, a number for `bigint`/`varint` as a Long,
 * a number for `decimal` as a BigDecimal. Anything else is handed over as it is, and the driver
 * refuses what does not fit the column (a TypeError: the record is refused). NULL stays NULL;
 * `undefined` (a field the record lacks) leaves the column as it is.
 */
export function toCql(value: unknown, type: ColumnType): unknown {
  if (value === null || value === undefined) return value;
  const code = type.code;
  if (TEXT.has(code)) {
    if (typeof value === 'string') return value;
    if (typeof value === 'object' && !(value instanceof Date)) return JSON.stringify(value);
    return value;
  }
  if (INTEGER.has(code) || FLOAT.has(code)) {
    if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
      return Number(value);
    if (typeof value === 'bigint' && Number.isSafeInteger(Number(value))) return Number(value);
    return value;
  }
  if (BIG.has(code)) {
    if (typeof value === 'number' && Number.isInteger(value)) return cassandra.types.Long.fromNumber(value);
    if (typeof value === 'bigint') return cassandra.types.Long.fromString(value.toString());
    if (typeof value === 'string' && /^-?\d+$/.test(value.trim()))
      return cassandra.types.Long.fromString(value.trim());
    return value;
  }
  if (code === t.decimal) {
    if (typeof value === 'number' && Number.isFinite(value))
      return cassandra.types.BigDecimal.fromNumber(value);
    if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim()))
      return cassandra.types.BigDecimal.fromString(value.trim());
    return value;
  }
  if (code === t.timestamp) {
    if (typeof value === 'number' || typeof value === 'string') {
      const date = new Date(value);
      return Number.isNaN(date.getTime()) ? value : date;
    }
    return value;
  }
  if (code === t.list || code === t.set) {
    const inner = type.info as ColumnType | undefined;
    if (Array.isArray(value) && inner !== undefined) return value.map((v) => toCql(v, inner));
    return value;
  }
  return value;
}

/**
 * A value read from Cassandra as a record value: 64-bit integers as numbers (bigints beyond 2^53),
 * decimals, UUIDs, addresses, dates and times as text, maps and UDTs as objects, lists and sets
 * as arrays, timestamps as dates, blobs as buffers.
 */
export function fromCql(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return value;
  if (value instanceof Date || value instanceof Uint8Array) return value;
  if (value instanceof cassandra.types.Long) {
    const n = value.toNumber();
    return Number.isSafeInteger(n) ? n : BigInt(value.toString());
  }
  if (
    value instanceof cassandra.types.BigDecimal ||
    value instanceof cassandra.types.Uuid ||
    value instanceof cassandra.types.InetAddress ||
    value instanceof cassandra.types.LocalDate ||
    value instanceof cassandra.types.LocalTime ||
    value instanceof cassandra.types.Duration
  )
    return value.toString();
  if (Array.isArray(value)) return value.map(fromCql);
  if (value instanceof Map) {
    const out: Row = {};
    for (const [k, v] of value) out[String(k)] = fromCql(v);
    return out;
  }
  const out: Row = {};
  for (const [k, v] of Object.entries(value)) out[k] = fromCql(v);
  return out;
}

/** A driver row as a record: each column's value through {@link fromCql}. */
export function rowOf(row: cassandra.types.Row, columns: readonly string[]): Row {
  const out: Row = {};
  for (const name of columns) out[name] = fromCql(row.get(name));
  return out;
}
