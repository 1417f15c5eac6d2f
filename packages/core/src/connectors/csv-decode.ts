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

/**
 * Decodes CSV rows into records. With `header`, the first row of the stream names the fields and
 * every later row must have as many fields; without it fields are `column0`, `column1`, … A row
 * that does not parse or has the wrong field count becomes a failure; offsets are the byte
 * offset of the row's first byte.
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

  constructor(options: DecodeOptions) {
    this.#header = options.header;
    this.#delimiter = options.delimiter;
    this.#delimiterByte = options.delimiter.charCodeAt(0);
    this.#infer = options.infer_types;
  }

  get offset(): number {
    return this.#base + this.#pos;
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
      const end = csvRecordEnd(bytes, start, len, this.#delimiterByte, final);
      if (end < 0) break;
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

  #generatedNames(count: number): string[] {
    const names = this.#generated;
    while (names.length < count) names.push(`column${names.length}`);
    return names;
  }
}
