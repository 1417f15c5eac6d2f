/**
 * Log sequence numbers (LSNs), PostgreSQL's positions in its write-ahead log, in their text form
 * `X/Y` (two hexadecimal halves of a 64-bit number).
 */

/** The LSN `text` as a number. */
export function lsnValue(text: string): bigint {
  const slash = text.indexOf('/');
  if (slash < 0) throw new Error(`not an LSN: '${text}'`);
  return (BigInt(`0x${text.slice(0, slash)}`) << 32n) | BigInt(`0x${text.slice(slash + 1)}`);
}

/** The text form of an LSN. */
export function lsnText(value: bigint): string {
  const high = value >> 32n;
  const low = value & 0xffffffffn;
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/** Whether `text` is an LSN. */
export function isLsn(text: unknown): text is string {
  return typeof text === 'string' && /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(text);
}

/** The later of two LSNs. */
export function laterLsn(a: string, b: string): string {
  return lsnValue(a) >= lsnValue(b) ? a : b;
}
