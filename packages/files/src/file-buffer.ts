/**
 * What a file-writing sink holds of one open file: its records as JSON lines not sent yet
 * (`jsonl`) or all of them until the file is encoded whole (`parquet`); and the names its files
 * get, which sort in the order written and carry a mark of the sink that wrote them.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { SinkBatch, SinkRejection, TaskIdentity } from '@sluice/core';
import { ParquetColumnsBuilder } from './parquet-builder.ts';
import { encodeParquet, type ParquetCompression, writeColumns } from './parquet-encode.ts';

/** The file formats of a file-writing sink. */
export type FileFormat = 'jsonl' | 'parquet';

/**
 * The mark in every file name a sink writes (`part-<mark>-…`): a hash of the pipeline, the sink
 * id and, for one task of a scaled-out pipeline, the task's partition — so that a restart finds
 * its own unfinished files and never another sink's or another task's.
 */
export function sinkMark(pipeline: string | undefined, id: string, task?: TaskIdentity): string {
  const owner = task === undefined ? id : `${id}\0task-${task.partition}`;
  return createHash('sha256')
    .update(`${pipeline ?? 'embedded'}\0${owner}`)
    .digest('hex')
    .slice(0, 12);
}

/** A name part for this run of a sink: names of later runs sort after those of earlier ones. */
export function runName(now: number): string {
  return `${now.toString(36).padStart(9, '0')}${randomBytes(3).toString('hex')}`;
}

/** The name of file `seq` of a run: `part-<mark>-<run>-<seq>.<format>`. */
export function fileName(mark: string, run: string, seq: number, format: FileFormat): string {
  return `part-${mark}-${run}-${String(seq).padStart(6, '0')}.${format}`;
}

/** A one-line description of an error. */
function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * The JSON line of record `i` of `batch` (the text it was read from, when it was read as JSON
 * and no step changed it), or the rejection of a record JSON cannot hold.
 */
export function lineOf(batch: SinkBatch, i: number): string | SinkRejection {
  const text = batch.texts?.[i];
  if (text !== undefined) return text;
  try {
    return JSON.stringify(batch.records[i]);
  } catch (err) {
    return { index: i, message: `cannot be written as JSON: ${describe(err)}` };
  }
}

/** The records of one open file that are not sent yet. */
export class FileBuffer {
  readonly format: FileFormat;
  /** When the file was started (the sink's clock). */
  readonly openedAt: number;
  /** Bytes of the file's records as JSON lines, sent or not: what `roll.max_bytes` measures. */
  bytes = 0;
  /** `jsonl`: lines not sent yet, each with its newline. */
  #chunks: string[] = [];
  /**
   * Length of the unsent `jsonl` lines in UTF-16 code units: never more than their UTF-8 bytes,
   * so a chunk sent once this reaches a size holds at least that many bytes.
   */
  #buffered = 0;
  /**
   * `parquet`: every line of the file — what it is encoded from when `#columns` could not hold
   * its records.
   */
  #lines: string[] = [];
  /** `parquet`: the file's columns, built as its records are added; undefined once spent. */
  #columns: ParquetColumnsBuilder | undefined;

  constructor(format: FileFormat, openedAt: number) {
    this.format = format;
    this.openedAt = openedAt;
    if (format === 'parquet') this.#columns = new ParquetColumnsBuilder();
  }

  /**
   * Adds one record's JSON line; for `parquet`, also the record itself (what the line is the
   * JSON of), which goes straight into the file's columns.
   */
  add(line: string, record?: unknown): void {
    if (this.format === 'parquet') {
      this.#lines.push(line);
      if (this.#columns !== undefined && (record === undefined || !this.#columns.add(record)))
        this.#columns = undefined;
      this.bytes += Buffer.byteLength(line) + 1;
    } else {
      this.#chunks.push(line, '\n');
      this.#buffered += line.length + 1;
      this.bytes += line.length + 1;
    }
  }

  /** The unsent `jsonl` text's length (0 for `parquet`, which is sent only when finished). */
  get buffered(): number {
    return this.#buffered;
  }

  /** The unsent `jsonl` lines as bytes, now counted as sent. */
  take(): Buffer {
    const body = Buffer.from(this.#chunks.join(''));
    this.#chunks = [];
    this.#buffered = 0;
    return body;
  }

  /**
   * The rest of the file, now counted as sent: the unsent `jsonl` lines, or the whole `parquet`
   * file encoded with `compression`.
   */
  finish(compression: ParquetCompression): Uint8Array {
    if (this.format === 'jsonl') return this.take();
    const columns = this.#columns?.build();
    this.#columns = undefined;
    const lines = this.#lines;
    this.#lines = [];
    if (columns !== undefined) return writeColumns(columns, compression);
    return encodeParquet(
      lines.map((line) => JSON.parse(line) as { [k: string]: unknown }),
      compression,
    );
  }
}
