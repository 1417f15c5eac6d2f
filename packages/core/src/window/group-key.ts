/**
 * Grouping keys of the window aggregate when the input carries no `key_by` keys.
 */

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
    case 'undefined':
      return null;
    default:
      return value === null ? null : `\u0000${json(value)}`;
  }
}

/**
 * Returns the function that computes a record's group key from `fields`.
 *
 * One field: its primitive value (a missing field is null; an object or array is its JSON text
 * behind a NUL character). Several fields: the JSON text of the array of values, so `1` and `'1'`
 * differ but, as in JSON, a missing field, NaN and ±Infinity all read as null. No fields:
 * {@link GLOBAL_KEY}.
 */
export function fieldGroupKey(fields: readonly string[]): (record: Row) => GroupKey {
  if (fields.length === 0) return () => GLOBAL_KEY;
  if (fields.length === 1) {
    const field = fields[0];
    return (record) => primitiveKey(record[field]);
  }
  const values = new Array<unknown>(fields.length);
  return (record) => {
    for (let i = 0; i < fields.length; i++) values[i] = record[fields[i]];
    return json(values);
  };
}
