/**
 * The `stdout` sink: JSON lines or CSV written to the process's standard output.
 */

import type { Writable } from 'node:stream';
import Type, { type Static } from 'typebox';
import type { Sink, SinkBatch, SinkContext, SinkRejection } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { defineSink } from '../spec.ts';
import {
  type ChangelogOptions,
  changelogEntries,
  changelogFields,
  changelogSinkSupport,
  checkChangelogOptions,
  encodeEntry,
  rejectEntry,
} from './changelog-format.ts';
import { createEncoder, type RecordEncoder } from './format-encode.ts';
import { type EncodeOptions, encodeFields } from './format-options.ts';

/** Text is handed to the stream in pieces of about this many characters. */
const CHUNK_CHARS = 1 << 20;

/** Config schema of the `stdout` sink. */
export const stdoutSinkConfig = Type.Object(
  { ...encodeFields, ...changelogFields },
  { additionalProperties: false },
);

/** Options of the `stdout` sink, defaults applied. */
export type StdoutSinkConfig = Static<typeof stdoutSinkConfig>;

/**
 * A sink writing to one byte stream (standard output unless another is given). Each `write`
 * hands its records to the stream in large pieces and waits for `drain` when the stream's buffer
 * is full; `prepareCommit` and `close` wait until everything written has been flushed. The stream
 * is not ended by `close`.
 */
export class StreamSink implements Sink {
  readonly #output: Writable;
  readonly #encoder: RecordEncoder;
  /** The changelog format; absent: records are written as they are (inserts only). */
  readonly #changelog: ChangelogOptions | undefined;
  #step: string | undefined;
  #headerWritten = false;
  #error: Error | null = null;
  readonly #onError = (err: Error) => {
    this.#error = err;
  };

  constructor(options: EncodeOptions & ChangelogOptions, output: Writable = process.stdout) {
    this.#output = output;
    this.#encoder = createEncoder(options);
    checkChangelogOptions(options);
    this.#changelog = options.changelog === undefined ? undefined : options;
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#step = ctx.id;
    this.#output.on('error', this.#onError);
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const { records, texts, kinds } = batch;
    let rejections: SinkRejection[] | undefined;
    const encoder = this.#encoder;
    let text = '';
    const entries =
      this.#changelog === undefined ? undefined : changelogEntries(this.#changelog, records, kinds, texts);
    const n = entries === undefined ? records.length : entries.length;
    for (let i = 0; i < n; i++) {
      let line: string;
      try {
        line =
          entries === undefined
            ? encoder.encode(records[i], texts?.[i])
            : encodeEntry((row, text) => encoder.encode(row, text), entries[i]);
      } catch (err) {
        rejections ??= [];
        if (entries === undefined) rejections.push({ index: i, message: (err as Error).message });
        else rejectEntry(rejections, entries[i], (err as Error).message);
        continue;
      }
      if (!this.#headerWritten) {
        this.#headerWritten = true;
        text += encoder.header();
      }
      text += line;
      if (text.length >= CHUNK_CHARS) {
        await this.#send(text);
        text = '';
      }
    }
    if (text !== '') await this.#send(text);
    return rejections;
  }

  async prepareCommit(_checkpointId: number): Promise<null> {
    await this.#flushed();
    return null;
  }

  async close(): Promise<void> {
    await this.#flushed();
    this.#output.off('error', this.#onError);
  }

  async #send(text: string): Promise<void> {
    this.#check();
    const output = this.#output;
    if (output.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        output.off('drain', done);
        output.off('error', done);
        output.off('close', done);
        resolve();
      };
      output.on('drain', done);
      output.on('error', done);
      output.on('close', done);
    });
    this.#check();
  }

  /** Resolves once everything written so far has left the stream's buffer. */
  #flushed(): Promise<void> {
    this.#check();
    const output = this.#output;
    if (output.writableLength === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      output.write('', (err) => (err ? reject(this.#wrap(err)) : resolve()));
    });
  }

  #check(): void {
    if (this.#error !== null) throw this.#wrap(this.#error);
    if (this.#output.destroyed) throw this.#wrap(new Error('the stream is closed'));
  }

  #wrap(err: Error): SluiceError {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'EPIPE' ? 'the reading process has gone (EPIPE)' : err.message;
    return new SluiceError('SINK_UNAVAILABLE', `cannot write to stdout: ${reason}`, {
      step: this.#step,
      cause: err,
    });
  }
}

/** The `stdout` sink spec. */
export const stdoutSink = defineSink({
  type: 'stdout',
  summary: 'Writes JSON lines or CSV to standard output.',
  delivery: 'at-least-once',
  changelog: changelogSinkSupport,
  description: [
    'Each batch is written in large pieces, waiting for the output to drain when it is slow (a',
    'pipe to a slow reader slows the pipeline instead of buffering without limit). A checkpoint',
    'completes only after everything written before it has been handed to the operating system;',
    'records after it may be written again after a restart (at-least-once).',
    '',
    'CSV output starts with a header row made of the fields of the first record; a record with a',
    'field outside it goes to the dead-letter output.',
  ].join('\n'),
  config: stdoutSinkConfig,
  example: ['type: stdout', 'format: json'].join('\n'),
  create: (config) => new StreamSink(config),
});
