/**
 * The CSV record decoder: frames RFC 4180 records on bytes (a quoted field may span lines), then
 * splits each into fields and names them from the header row.
 */

import type { Row } from '../record.ts';
import { csvRecordEnd, parseCsvFields } from './csv.ts';
import type { DecodeOutput, RecordDecoder } from './format-decode.ts';
import { isBom } from './format-lines.ts';
import type { DecodeOptions } from './format-options.ts';
import { type InvalidUtf8, invalidUtf8At, invalidUtf8Message } from './input-guards.ts';

const EMPTY = Buffer.alloc(0);

/** Bytes of an over-long record its dead letter keeps as payload. */
const LONG_RECORD_HEAD = 1024;

/**
 * Decodes CSV rows into records. With `header`, the first row of the stream names the fields and
 * every later row must have as many fields; without it fields are `column0`, `column1`, … A row
 * that does not parse or has the wrong field count becomes a failure; offsets are the byte
 * offset of the row's first byte. Rows are checked for UTF-8 a buffer at a time (`isUtf8` over
 * everything pending, one row at a time only once that fails); a row with invalid bytes, or an
 * inferred number beyond the range of a double (`1e400`), is a failure too. A record longer than
 * `maxLine` bytes is a failure holding its first kilobyte; one still incomplete past `maxLine` is
 * dropped as it arrives until it ends, with `offset` at its start meanwhile.
 */
export class CsvDecoder implements RecordDecoder {
  readonly #header: boolean;
  readonly #delimiter: string;
  readonly #delimiterByte: number;
  readonly #infer: boolean;
  readonly #invalidUtf8: InvalidUtf8;
  readonly #fields: unknown[] = [];
  readonly #generated: string[] = [];
  #columns: string[] | undefined;
  #bytes: Buffer = EMPTY;
  #pos = 0;
  /** Stream offset of `#bytes[0]`. */
  #base = 0;
  #atStart = true;
  /** `#bytes` before this index are known to be valid UTF-8. */
  #validTo = 0;
  readonly #maxLine: number;
  readonly #maxLineText: string;
  /** An over-long record being skipped: its start, first bytes and the scanner's state. */
  #longRecord: { offset: number; head: Buffer; scan: { state: number } } | undefined;

  constructor(options: DecodeOptions, maxLine = Number.POSITIVE_INFINITY, maxLineText = String(maxLine)) {
    this.#header = options.header;
    this.#delimiter = options.delimiter;
    this.#delimiterByte = options.delimiter.charCodeAt(0);
    this.#infer = options.infer_types;
    this.#invalidUtf8 = options.invalid_utf8 ?? 'dead_letter';
    this.#maxLine = maxLine;
    this.#maxLineText = maxLineText;
  }

  get offset(): number {
    return this.#longRecord?.offset ?? this.#base + this.#pos;
  }

  get pending(): number {
    return this.#bytes.length - this.#pos;
  }

  get columns(): readonly string[] | undefined {
    return this.#columns;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const chunk = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.#pos >= this.#bytes.length) {
      this.#base += this.#bytes.length;
      this.#bytes = chunk;
    } else {
      this.#base += this.#pos;
      this.#bytes = Buffer.concat([this.#bytes.subarray(this.#pos), chunk]);
    }
    this.#pos = 0;
    this.#validTo = 0;
  }

  reset(offset: number, columns?: readonly string[]): void {
    this.#bytes = EMPTY;
    this.#pos = 0;
    this.#base = offset;
    this.#atStart = offset === 0;
    this.#validTo = 0;
    this.#longRecord = undefined;
    this.#columns = columns === undefined ? undefined : [...columns];
  }

  newOutput(): DecodeOutput {
    return { records: [], offsets: [], failures: [] };
  }

  decode(out: DecodeOutput, max: number, final: boolean): number {
    const bytes = this.#bytes;
    const len = bytes.length;
    const fields = this.#fields;
    let n = 0;
    while (n < max && this.#pos < len) {
      if (this.#atStart) {
        if (len - this.#pos < 3 && !final) break;
        this.#atStart = false;
        if (isBom(bytes, this.#pos)) {
          this.#pos += 3;
          continue;
        }
      }
      const start = this.#pos;
      const long = this.#longRecord;
      if (long !== undefined) {
        const end = csvRecordEnd(bytes, start, len, this.#delimiterByte, final, long.scan);
        if (end < 0) {
          this.#drop();
          break;
        }
        this.#pos = end;
        this.#longRecord = undefined;
        out.failures.push(this.#longFailure(long.head, this.#base + end - long.offset, long.offset));
        n++;
        continue;
      }
      const end = csvRecordEnd(bytes, start, len, this.#delimiterByte, final);
      if (end < 0) {
        if (len - start <= this.#maxLine) break;
        const scan = { state: 0 };
        csvRecordEnd(bytes, start, len, this.#delimiterByte, false, scan);
        this.#longRecord = {
          offset: this.#base + start,
          head: Buffer.from(bytes.subarray(start, start + LONG_RECORD_HEAD)),
          scan,
        };
        this.#drop();
        break;
      }
      if (end - start > this.#maxLine) {
        this.#pos = end;
        out.failures.push(
          this.#longFailure(bytes.subarray(start, start + LONG_RECORD_HEAD), end - start, this.#base + start),
        );
        n++;
        continue;
      }
      this.#pos = end;
      let textEnd = end;
      if (textEnd > start && bytes[textEnd - 1] === 0x0a) textEnd--;
      if (textEnd > start && bytes[textEnd - 1] === 0x0d) textEnd--;
      if (textEnd === start) continue;
      const offset = this.#base + start;
      const bad = this.#invalidAt(bytes, start, textEnd, len);
      if (bad >= 0) {
        out.failures.push({
          payload: bytes.toString('base64', start, textEnd),
          message: invalidUtf8Message(bad - start),
          offset,
        });
        n++;
        continue;
      }
      const text = bytes.toString('utf8', start, textEnd);
      const readingHeader = this.#header && this.#columns === undefined;
      const error = parseCsvFields(text, this.#delimiter, this.#infer && !readingHeader, fields);
      if (error !== undefined) {
        out.failures.push({
          payload: text,
          message: `bad CSV ${readingHeader ? 'header' : 'row'}: ${error}`,
          offset,
        });
        n++;
        continue;
      }
      if (readingHeader) {
        this.#columns = fields.map((f, i) => (f === '' ? `column${i}` : (f as string)));
        continue;
      }
      const names = this.#columns ?? this.#generatedNames(fields.length);
      if (this.#columns !== undefined && names.length !== fields.length) {
        out.failures.push({
          payload: text,
          message: `bad CSV row: ${fields.length} field(s), the header has ${names.length}`,
          offset,
        });
        n++;
        continue;
      }
      const huge = this.#infer ? fields.findIndex((f) => typeof f === 'number' && !Number.isFinite(f)) : -1;
      if (huge >= 0) {
        out.failures.push({
          payload: text,
          message: `bad CSV row: field '${names[huge]}' is a number out of range (beyond ±1.8e308 it would become Infinity); quote it to keep it as text`,
          offset,
        });
        n++;
        continue;
      }
      const row: Row = {};
      for (let i = 0; i < fields.length; i++) row[names[i]] = fields[i];
      out.records.push(row);
      out.offsets.push(offset);
      n++;
    }
    return n;
  }

  /**
   * Index of the first invalid UTF-8 byte of the row `bytes[start, end)`, or -1. The first row
   * past `#validTo` checks everything up to `len` in one `isUtf8` call (less a multi-byte
   * sequence cut at the end of the buffer: its rest is still to come) and moves `#validTo` to
   * the first bad byte or that end, so each byte is checked about once.
   */
  #invalidAt(bytes: Buffer, start: number, end: number, len: number): number {
    if (this.#invalidUtf8 === 'replace' || end <= this.#validTo) return -1;
    const whole = cutSequenceStart(bytes, start, len);
    const bad = invalidUtf8At(bytes, start, whole);
    this.#validTo = bad < 0 ? whole : bad;
    if (end <= this.#validTo) return -1;
    return invalidUtf8At(bytes, start, end);
  }

  /** Drops every pending byte (of a record being skipped). */
  #drop(): void {
    this.#base += this.#bytes.length;
    this.#bytes = EMPTY;
    this.#pos = 0;
    this.#validTo = 0;
  }

  #longFailure(head: Uint8Array, bytes: number, offset: number) {
    return {
      payload: `${Buffer.from(head).toString('utf8')}…`,
      message: `a CSV record of ${bytes} bytes, longer than max_line (${this.#maxLineText}); skipped`,
      offset,
    };
  }

  #generatedNames(count: number): string[] {
    const names = this.#generated;
    while (names.length < count) names.push(`column${names.length}`);
    return names;
  }
}

/**
 * Where a multi-byte UTF-8 sequence cut by the end of `bytes[start, len)` begins (`len` when the
 * range ends on a whole character): at most the last three bytes are looked at.
 */
function cutSequenceStart(bytes: Uint8Array, start: number, len: number): number {
  for (let i = len - 1; i >= start && i >= len - 3; i--) {
    const c = bytes[i];
    if ((c & 0xc0) === 0x80) continue;
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return len - i < need ? i : len;
  }
  return len;
}
