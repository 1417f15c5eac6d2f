/**
 * CSV as in RFC 4180: finding where a record ends in raw bytes, splitting a record into fields,
 * inferring scalar types, and quoting fields for output.
 *
 * Fields may be quoted with `"`; a quoted field may hold the delimiter, a line break and doubled
 * quotes (`""` for one `"`). Records end at `\n`; a `\r` before it is dropped. A `"` inside an
 * unquoted field is kept as text (lenient, like Python's `csv`); text after a closing quote other
 * than the delimiter or the line end is an error.
 */

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const AFTER_QUOTE = 3;

/**
 * Returns the index just after the `\n` ending the record that starts at `bytes[start]`, or -1
 * when the record does not end before `end` (more bytes are needed). With `final`, the bytes up to
 * `end` are the last ones and the record ends there. Quotes, the delimiter and line breaks are
 * ASCII, never part of a multi-byte UTF-8 sequence, so scanning bytes is exact.
 *
 * `scan`, when given, carries the scanner's state across calls, for a record read in pieces that
 * are not kept: the scan starts in `scan.state` (0 at a record's start) and leaves its state there.
 */
export function csvRecordEnd(
  bytes: Uint8Array,
  start: number,
  end: number,
  delimiter: number,
  final: boolean,
  scan?: { state: number },
): number {
  let state = scan?.state ?? FIELD_START;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    switch (state) {
      case QUOTED:
        if (b === QUOTE) state = AFTER_QUOTE;
        break;
      case FIELD_START:
        if (b === QUOTE) state = QUOTED;
        else if (b === LF) return i + 1;
        else if (b !== delimiter) state = UNQUOTED;
        break;
      case UNQUOTED:
        if (b === LF) return i + 1;
        if (b === delimiter) state = FIELD_START;
        break;
      default:
        if (b === QUOTE) state = QUOTED;
        else if (b === LF) return i + 1;
        else if (b === delimiter) state = FIELD_START;
        else if (b !== CR) state = UNQUOTED;
    }
  }
  if (scan) scan.state = state;
  return final ? end : -1;
}

/**
 * Splits one record (without its line break) into `fields`, replacing their contents. Unquoted
 * fields go through `inferCsvValue` when `infer` is set; quoted fields always stay text. Returns
 * an error message for a malformed record, `undefined` when it parsed.
 */
export function parseCsvFields(
  text: string,
  delimiter: string,
  infer: boolean,
  fields: unknown[],
): string | undefined {
  fields.length = 0;
  const len = text.length;
  let p = 0;
  for (;;) {
    if (p < len && text.charCodeAt(p) === QUOTE) {
      let value = '';
      let from = p + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q < 0) return `unterminated quoted field ${fields.length + 1}`;
        if (text.charCodeAt(q + 1) === QUOTE) {
          value += text.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        value += text.slice(from, q);
        p = q + 1;
        break;
      }
      fields.push(value);
      if (p === len) return undefined;
      if (text.startsWith(delimiter, p)) {
        p += delimiter.length;
        continue;
      }
      if (text.charCodeAt(p) === CR && p + 1 === len) return undefined;
      return `unexpected text after the closing quote of field ${fields.length}`;
    }
    const d = text.indexOf(delimiter, p);
    const raw = d < 0 ? text.slice(p) : text.slice(p, d);
    fields.push(infer ? inferCsvValue(raw) : raw);
    if (d < 0) return undefined;
    p = d + delimiter.length;
  }
}

/**
 * Reads unquoted CSV text as a number (JSON number syntax, so `007` and `1e` stay text, and
 * integers beyond 2^53 stay text rather than lose digits) or a boolean (`true`/`false`, any case);
 * anything else is returned unchanged.
 */
export function inferCsvValue(raw: string): unknown {
  const len = raw.length;
  if (len === 0) return raw;
  const c = raw.charCodeAt(0);
  if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
    if (!NUMBER.test(raw)) return raw;
    const n = Number(raw);
    if (Number.isInteger(n) && !Number.isSafeInteger(n) && INTEGER.test(raw)) return raw;
    return n;
  }
  if (len === 4 && (c === 0x74 || c === 0x54) && raw.toLowerCase() === 'true') return true;
  if (len === 5 && (c === 0x66 || c === 0x46) && raw.toLowerCase() === 'false') return false;
  return raw;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const INTEGER = /^-?\d+$/;

/**
 * Returns a function that renders one value as a CSV field: text as is, numbers, booleans and
 * bigints in their usual form, `null`/`undefined` as an empty field, dates as ISO-8601, other
 * objects as JSON; quoted when it holds the delimiter, a quote or a line break.
 */
export function csvFieldFormatter(delimiter: string): (value: unknown) => string {
  const special = new RegExp(`["\\r\\n]|${delimiter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
  return (value) => {
    let text: string;
    switch (typeof value) {
      case 'string':
        text = value;
        break;
      case 'number':
      case 'boolean':
      case 'bigint':
        return String(value);
      case 'undefined':
        return '';
      default:
        if (value === null) return '';
        text = value instanceof Date ? value.toISOString() : (JSON.stringify(value) ?? '');
    }
    return special.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
}
