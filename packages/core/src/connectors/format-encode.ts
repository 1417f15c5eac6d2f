/**
 * Encoding records as JSON lines or CSV rows, shared by the `file` and `stdout` sinks.
 */

import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { csvFieldFormatter } from './csv.ts';
import type { EncodeOptions } from './format-options.ts';

/** Turns records into lines of text. One per output stream (the CSV columns are fixed by the first record). */
export interface RecordEncoder {
  /**
   * Encodes one record as a line ending in `\n`. Throws SINK_REJECTED for a record it cannot
   * encode (a bigint or a cycle in JSON; a field outside the header in CSV). JSON writes `text`,
   * the JSON text the record was read as (see `Sink.write`), when given and it fits on one line.
   */
  encode(record: Row, text?: string): string;
  /** Text every output file starts with: the CSV header row once the columns are known, else ''. */
  header(): string;
  /** CSV column names once known (from the first record encoded, or given to `createEncoder`). */
  readonly columns: readonly string[] | undefined;
}

/** Creates the encoder for `options.format`; `columns` restores the CSV columns of an earlier run. */
export function createEncoder(options: EncodeOptions, columns?: readonly string[]): RecordEncoder {
  return options.format === 'csv' ? new CsvEncoder(options.delimiter, columns) : new JsonEncoder();
}

/**
 * A record as one line of JSON, without the line end: `text`, the JSON it was read as (see
 * `Sink.write`), when given and on one line, else `JSON.stringify` (which throws for a bigint or
 * a cycle).
 */
export function jsonLine(record: Row, text: string | undefined): string {
  if (text !== undefined && text.indexOf('\n') < 0 && text.indexOf('\r') < 0) return text;
  return JSON.stringify(record);
}

class JsonEncoder implements RecordEncoder {
  readonly columns = undefined;

  encode(record: Row, text?: string): string {
    try {
      return `${jsonLine(record, text)}\n`;
    } catch (err) {
      throw new SluiceError('SINK_REJECTED', `record cannot be written as JSON: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  header(): string {
    return '';
  }
}

class CsvEncoder implements RecordEncoder {
  readonly #delimiter: string;
  readonly #format: (value: unknown) => string;
  #columns: string[] | undefined;
  #known = new Set<string>();
  #header = '';

  constructor(delimiter: string, columns: readonly string[] | undefined) {
    this.#delimiter = delimiter;
    this.#format = csvFieldFormatter(delimiter);
    if (columns !== undefined) this.#setColumns([...columns]);
  }

  get columns(): readonly string[] | undefined {
    return this.#columns;
  }

  header(): string {
    return this.#header;
  }

  encode(record: Row): string {
    const columns =
      this.#columns ?? this.#setColumns(Object.keys(record).filter((k) => record[k] !== undefined));
    for (const key in record) {
      if (!this.#known.has(key) && record[key] !== undefined) {
        throw new SluiceError(
          'SINK_REJECTED',
          `record has field '${key}', which is not a column of the CSV header (${columns.join(', ')}); ` +
            'the header comes from the first record, so give all records the same fields',
        );
      }
    }
    const format = this.#format;
    let line = format(record[columns[0]]);
    for (let i = 1; i < columns.length; i++) line += this.#delimiter + format(record[columns[i]]);
    return line + '\n';
  }

  #setColumns(columns: string[]): string[] {
    this.#columns = columns;
    this.#known = new Set(columns);
    this.#header = columns.length === 0 ? '' : columns.map(this.#format).join(this.#delimiter) + '\n';
    return columns;
  }
}
