/**
 * The bookkeeping every file-writing sink does the same way, whatever it writes to: one open file
 * per partition folder, rolled by size and age, finished at every checkpoint; finished files
 * prepared by the checkpoint that covers them and published once it is durable. What differs —
 * how a file is started, sent and published — is the sink's `FileStore`.
 */

import type { Row, SinkBatch, SinkRejection } from '@sluice/core';
import { FileBuffer, type FileFormat, fileName, lineOf } from './file-buffer.ts';
import type { Layout } from './layout-config.ts';
import type { ParquetCompression } from './parquet-encode.ts';

/** How a sink writes files to its storage: `F` is an open file, `P` a finished one. */
export interface FileStore<F, P> {
  /**
   * Starts the file `path` (relative to the sink's output: partition folders, then the name;
   * e.g. `dt=2026-12-06/part-<mark>-<run>-000007.jsonl`).
   */
  start(path: string): Promise<F> | F;
  /** Sends the next bytes of `file` (never empty): a chunk as it grows, or the rest when finished. */
  send(file: F, bytes: Uint8Array): Promise<void>;
  /** All of `file` is sent: what a checkpoint records of it, to publish it later. */
  finished(file: F): P;
}

/** What `PartitionedFiles` needs to know of the sink's options and run. */
export interface PartitionedFilesOptions {
  readonly format: FileFormat;
  readonly compression: ParquetCompression;
  readonly layout: Layout;
  /** `roll.max_bytes`. */
  readonly maxBytes: number;
  /** Send an open `jsonl` file's lines once this many wait. */
  readonly chunkBytes: number;
  /** The sink's mark and this run's name part, for file names (`fileName`). */
  readonly mark: string;
  readonly run: string;
}

interface Open<F> {
  file: F;
  buffer: FileBuffer;
}

/** The open, finished and prepared files of one file-writing sink. */
export class PartitionedFiles<F, P> {
  readonly #options: PartitionedFilesOptions;
  readonly #store: FileStore<F, P>;
  #seq = 0;
  /** Files being written, by partition folder. */
  readonly #open = new Map<string, Open<F>>();
  /** Finished files not yet part of a prepared checkpoint. */
  #finished: P[] = [];
  /** Prepared files by the checkpoint that recorded them, published at its commit. */
  readonly #prepared = new Map<number, P[]>();

  constructor(options: PartitionedFilesOptions, store: FileStore<F, P>) {
    this.#options = options;
    this.#store = store;
  }

  /**
   * Adds the records of `batch` to the open files of their partitions (`now` by the sink's
   * clock), sending, finishing and starting files as their sizes and ages say. Returns the
   * records JSON cannot hold.
   */
  async write(batch: SinkBatch, now: number): Promise<SinkRejection[] | undefined> {
    const rejections: SinkRejection[] = [];
    const { records, times } = batch;
    const { layout, maxBytes, chunkBytes } = this.#options;
    for (let i = 0; i < records.length; i++) {
      const line = lineOf(batch, i);
      if (typeof line !== 'string') {
        rejections.push(line);
        continue;
      }
      const partition = layout.path(records[i] as Row, times[i] as number);
      let open = this.#open.get(partition);
      if (open !== undefined && now - open.buffer.openedAt >= layout.maxAge) {
        await this.#finish(partition, open);
        open = undefined;
      }
      if (open === undefined) open = await this.#start(partition, now);
      open.buffer.add(line, records[i]);
      if (open.buffer.buffered >= chunkBytes) await this.#store.send(open.file, open.buffer.take());
      if (open.buffer.bytes >= maxBytes) await this.#finish(partition, open);
    }
    return rejections.length > 0 ? rejections : undefined;
  }

  async #start(partition: string, now: number): Promise<Open<F>> {
    const { format, mark, run } = this.#options;
    const name = fileName(mark, run, this.#seq++, format);
    const file = await this.#store.start(partition === '' ? name : `${partition}/${name}`);
    const open = { file, buffer: new FileBuffer(format, now) };
    this.#open.set(partition, open);
    return open;
  }

  /** Sends the rest of a file (a `parquet` file is encoded now); it then waits for a checkpoint. */
  async #finish(partition: string, open: Open<F>): Promise<void> {
    const rest = open.buffer.finish(this.#options.compression);
    if (rest.length > 0) await this.#store.send(open.file, rest);
    this.#open.delete(partition);
    this.#finished.push(this.#store.finished(open.file));
  }

  async #finishAll(): Promise<void> {
    for (const [partition, open] of [...this.#open]) await this.#finish(partition, open);
  }

  /**
   * At checkpoint `checkpointId`: finishes the open files and returns every prepared file not
   * yet published — a checkpoint whose commit never came is covered by this one.
   */
  async prepare(checkpointId: number): Promise<P[]> {
    await this.#finishAll();
    if (this.#finished.length > 0) {
      this.#prepared.set(checkpointId, this.#finished);
      this.#finished = [];
    }
    return [...this.#prepared.values()].flat();
  }

  /** Checkpoint `checkpointId` is durable: publishes the files it and those before it prepared. */
  async commit(checkpointId: number, publish: (file: P) => Promise<void>): Promise<void> {
    for (const [id, files] of [...this.#prepared]) {
      if (id > checkpointId) continue;
      for (const file of files) await publish(file);
      this.#prepared.delete(id);
    }
  }

  /** The end of the input: finishes the open files and publishes every file. */
  async close(publish: (file: P) => Promise<void>): Promise<void> {
    await this.#finishAll();
    for (const file of [...this.#prepared.values()].flat()) await publish(file);
    for (const file of this.#finished) await publish(file);
    this.#prepared.clear();
    this.#finished = [];
  }

  /**
   * A failure: forgets the files no checkpoint recorded (open and finished) and returns them,
   * for the sink to remove. Prepared files stay: their checkpoint may be durable.
   */
  discard(): { open: F[]; finished: P[] } {
    const open = [...this.#open.values()].map((o) => o.file);
    const finished = this.#finished;
    this.#open.clear();
    this.#finished = [];
    return { open, finished };
  }
}
