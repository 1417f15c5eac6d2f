/**
 * The CSV record decoder: frames RFC 4180 records on bytes (a quoted field may span lines), then
 * splits each into fields and names them from the header row.
 */

import type { Row } from '../record.ts';
import { csvRecordEnd, parseCsvFields } from './csv.ts';
import type { DecodeOutput, RecordDecoder } from './format-decode.ts';
import { isBom } from './format-lines.ts';
import type { DecodeOptions } from './format-options.ts';

const EMPTY = Buffer.alloc(0);

/** Bytes of an over-long record its dead letter keeps as payload. */
const LONG_RECORD_HEAD = 1024;

/**
 * Decodes CSV rows into records. With `header`, the first row of the stream names the fields and
 * every later row must have as many fields; without it fields are `column0`, `column1`, … A row
 * that does not parse or has the wrong field count becomes a failure; offsets are the byte
 * offset of the row's first byte. A record longer than `maxLine` bytes is a failure holding its
 * first kilobyte; one still incomplete past `maxLine` is dropped as it arrives until it ends, with
 * `offset` at its start meanwhile.
 */
export class CsvDecoder implements RecordDecoder {
  readonly #header: boolean;
  readonly #delimiter: string;
  readonly #delimiterByte: number;
  readonly #infer: boolean;
  readonly #fields: unknown[] = [];
  readonly #generated: string[] = [];
  #columns: string[] | undefined;
  #bytes: Buffer = EMPTY;
  #pos = 0;
  /** Stream offset of `#bytes[0]`. */
  #base = 0;
  #atStart = true;
  readonly #maxLine: number;
  readonly #maxLineText: string;
  /** An over-long record being skipped: its start, first bytes and the scanner's state. */
  #longRecord: { offset: number; head: Buffer; scan: { state: number } } | undefined;

  constructor(options: DecodeOptions, maxLine = Number.POSITIVE_INFINITY, maxLineText = String(maxLine)) {
    this.#header = options.header;
    this.#delimiter = options.delimiter;
    this.#delimiterByte = options.delimiter.charCodeAt(0);
    this.#infer = options.infer_types;
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

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#pos >= this.#bytes.length) {
      this.#base += this.#bytes.length;
      this.#bytes = chunk;
    } else {
      this.#base += this.#pos;
      this.#bytes = Buffer.concat([this.#bytes.subarray(this.#pos), chunk]);
    }
    this.#pos = 0;
  }

  reset(offset: number, columns?: readonly string[]): void {
    this.#bytes = EMPTY;
    this.#pos = 0;
    this.#base = offset;
    this.#atStart = offset === 0;
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
      const text = bytes.toString('utf8', start, textEnd);
      const offset = this.#base + start;
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
      const row: Row = {};
      for (let i = 0; i < fields.length; i++) row[names[i]] = fields[i];
      out.records.push(row);
      out.offsets.push(offset);
      n++;
    }
    return n;
  }

  /** Drops every pending byte (of a record being skipped). */
  #drop(): void {
    this.#base += this.#bytes.length;
    this.#bytes = EMPTY;
    this.#pos = 0;
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
