/**
 * How record values become Redis strings: text as it is, numbers and booleans as their literal,
 * dates as ISO-8601 text, bigints as their digits, arrays and objects as JSON.
 */

/** The Redis string of one field's value (not NULL: callers handle that). */
export function fieldText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      if (value instanceof Date) return value.toISOString();
      return JSON.stringify(value, jsonReplacer);
  }
}

/** Bigints inside arrays and objects as their digits (JSON has no bigint). */
function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** A record as JSON text, bigints as their digits. */
export function recordJson(record: unknown): string {
  return JSON.stringify(record, jsonReplacer);
}
