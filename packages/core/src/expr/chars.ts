/**
 * String positions in characters (Unicode code points), as SQL counts them, rather than UTF-16
 * code units. Scans without allocating.
 */

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Number of code points in `s`. */
export function charLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) {
      n--;
      i++;
    }
  }
  return n;
}

/** UTF-16 index reached by moving `chars` code points forward from index `from` (clamped to the end). */
export function unitIndex(s: string, chars: number, from = 0): number {
  let i = from;
  for (let c = 0; c < chars && i < s.length; c++) {
    i += isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
  }
  return i;
}

/** Code points `from` (inclusive) to `to` (exclusive) of `s`, both 0-based and clamped. */
export function charSlice(s: string, from: number, to: number): string {
  if (to <= from) return '';
  const start = unitIndex(s, from);
  return s.slice(start, unitIndex(s, to - from, start));
}

/** Number of code points in `s` before UTF-16 index `unit`. */
export function charCount(s: string, unit: number): number {
  let n = 0;
  for (let i = 0; i < unit; i++, n++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) i++;
  }
  return n;
}
