/**
 * Grouping keys of the window aggregate when the input carries no `key_by` keys.
 */

import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';

/**
 * A group's identity inside one window: a batch key or key-function string, one field's
 * primitive value (so `1`, `'1'`, `true` and `null` stay four groups without building a string
 * per record), or the JSON text of several fields' values. Group keys are Map keys in checkpoints.
 */
export type GroupKey = string | number | boolean | bigint | null;

/** The key of the one group of an aggregate with no grouping. */
export const GLOBAL_KEY = '';

function bigintAsText(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value;
}

function json(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify(value, bigintAsText);
  }
}

function primitiveKey(value: unknown): GroupKey {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return value;
    default:
      return value === null ? null : `\u0000${json(value)}`;
  }
}

function missingKeyField(field: string, index: number): never {
  throw new SluiceError(
    'EXPR_MISSING_FIELD',
    `key field '${field}' is missing from the record; check the name in \`key\` (field names are case-sensitive), or give records without it a value in a map step first, e.g. ${field}: coalesce(${field}, 'none')`,
    { path: `key[${index}]` },
  );
}

/** Reads a key field as an own property: a record lacking `constructor` does not inherit one. */
function fieldReader(field: string, index: number): (record: Row) => unknown {
  const inherited = field in Object.prototype;
  return (record) => {
    const value = inherited ? (Object.hasOwn(record, field) ? record[field] : undefined) : record[field];
    return value === undefined ? missingKeyField(field, index) : value;
  };
}

/**
 * Returns the function that computes a record's group key from `fields`; it throws
 * EXPR_MISSING_FIELD (path `key[i]`) when the record lacks one of them, so the record becomes a
 * dead letter instead of joining a group of nulls.
 *
 * One field: its primitive value (an object or array is its JSON text behind a NUL character).
 * Several fields: the JSON text of the array of values, so `1` and `'1'` differ but, as in JSON,
 * NaN and ±Infinity read as null. No fields: {@link GLOBAL_KEY}.
 */
export function fieldGroupKey(fields: readonly string[]): (record: Row) => GroupKey {
  if (fields.length === 0) return () => GLOBAL_KEY;
  const readers = fields.map(fieldReader);
  if (fields.length === 1) {
    const read = readers[0];
    return (record) => primitiveKey(read(record));
  }
  const values = new Array<unknown>(fields.length);
  return (record) => {
    for (let i = 0; i < readers.length; i++) values[i] = readers[i](record);
    return json(values);
  };
}
