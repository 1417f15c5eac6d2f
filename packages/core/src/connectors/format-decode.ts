/**
 * Incremental decoding of a byte stream into records (JSON lines, CSV or text lines), with the
 * exact byte offset of every record, shared by the `file` and `stdin` sources.
 */

import { parseByteSize } from '../byte-size.ts';
import type { DecodeFailure, SourceBatch } from '../connector.ts';
import type { Row } from '../record.ts';
import { CsvDecoder } from './csv-decode.ts';
import { LineDecoder } from './format-lines.ts';
import { DEFAULT_MAX_LINE, type DecodeOptions } from './format-options.ts';
import { DEFAULT_MAX_DEPTH } from './input-guards.ts';

/** Where a decoder puts its output; the arrays are appended to. */
export interface DecodeOutput {
  records: Row[];
  /** Byte offset of the start of each record in `records`. */
  offsets: number[];
  failures: DecodeFailure[];
  /** JSON Lines: the line each record was parsed from (see `SourceBatch.texts`), when given. */
  texts?: string[];
}

/**
 * Turns pushed bytes into records. Bytes that do not yet form a complete record are held until
 * more arrive or the input ends. Not thread-safe; one per stream.
 */
export interface RecordDecoder {
  /** Stream offset just after the last record (or skipped line) `decode` consumed. */
  readonly offset: number;
  /** Bytes pushed but not consumed yet, complete records included. */
  readonly pending: number;
  /** CSV column names once known (from the header row or given to `reset`). */
  readonly columns: readonly string[] | undefined;
  /** Appends the next bytes of the stream. The decoder keeps `chunk`: do not reuse it. */
  push(chunk: Uint8Array): void;
  /**
   * Decodes up to `max` entries (records plus failures) from the pending bytes and returns how
   * many it added. With `final`, the pending bytes are the end of the stream, so an unterminated
   * last line is a record too. Malformed input becomes a failure; this never throws on data.
   */
  decode(out: DecodeOutput, max: number, final: boolean): number;
  /** Empty arrays for `decode` to fill: with `texts` when the decoder parses JSON. */
  newOutput(): DecodeOutput;
  /** Drops all pending bytes and continues at stream `offset` (0 reads a CSV header again). */
  reset(offset: number, columns?: readonly string[]): void;
}

/** What a reader returns for what a decoder filled: records, offsets and, if any, failures and texts. */
export function sourceBatchOf(out: DecodeOutput): SourceBatch {
  const batch: SourceBatch = { records: out.records, offsets: out.offsets };
  if (out.failures.length > 0) batch.failures = out.failures;
  if (out.texts && out.texts.length > 0) batch.texts = out.texts;
  return batch;
}

/** Creates the decoder for `options.format`; throws CONFIG_INVALID on a bad `max_line`. */
export function createDecoder(options: DecodeOptions): RecordDecoder {
  const text = options.max_line ?? DEFAULT_MAX_LINE;
  const maxLine = parseByteSize(text, 'max_line');
  if (options.format === 'csv') return new CsvDecoder(options, maxLine, text);
  const limits = {
    maxDepth: options.max_depth ?? DEFAULT_MAX_DEPTH,
    invalidUtf8: options.invalid_utf8 ?? ('dead_letter' as const),
  };
  return new LineDecoder(options.format === 'json', limits, maxLine, text);
}
