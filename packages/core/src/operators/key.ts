/**
 * Key encoding: turns one or more field values into the string that names keyed state.
 *
 * A type tag keeps `1`, `'1'`, `true` and `null` apart. Key strings are part of the checkpoint
 * format: changing the encoding invalidates state.
 */

/** Encodes one value as a key. */
export function encodeKeyValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return `\u0000n${value}`;
    case 'boolean':
      return value ? '\u0000t' : '\u0000f';
    case 'bigint':
      return `\u0000b${value}`;
    case 'undefined':
      return '\u0000u';
    default:
      return value === null ? '\u0000z' : `\u0000j${JSON.stringify(value)}`;
  }
}

/** Encodes several values as one key. */
export function encodeKey(values: readonly unknown[]): string {
  if (values.length === 1) return encodeKeyValue(values[0]);
  let out = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += '\u0001';
    out += encodeKeyValue(values[i]);
  }
  return out;
}
