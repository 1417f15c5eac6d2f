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

/** Encodes several values as one key (one value: as `encodeKeyValue`; more: tagged JSON). */
export function encodeKey(values: readonly unknown[]): string {
  if (values.length === 1) return encodeKeyValue(values[0]);
  return `\u0000j${JSON.stringify(values)}`;
}

/** The value `encodeKeyValue` encoded (several values from `encodeKey` come back as an array). */
export function decodeKey(key: string): unknown {
  if (key.length === 0 || key.charCodeAt(0) !== 0) return key;
  const rest = key.slice(2);
  switch (key[1]) {
    case 'n':
      return Number(rest);
    case 't':
      return true;
    case 'f':
      return false;
    case 'b':
      return BigInt(rest);
    case 'u':
      return undefined;
    case 'z':
      return null;
    default:
      return JSON.parse(rest);
  }
}
