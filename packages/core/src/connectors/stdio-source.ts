/**
 * The `stdin` source: JSON lines, CSV or text read from the process's standard input.
 */

import type { Readable } from 'node:stream';
import Type, { type Static } from 'typebox';
import type { Logger, Source, SourceBatch, SourceContext, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { defineSource } from '../spec.ts';
import { createDecoder, type DecodeOutput, type RecordDecoder, sourceBatchOf } from './format-decode.ts';
import { type DecodeOptions, decodeFields } from './format-options.ts';

/** How long a read waits for input before returning an empty batch, ms. */
const IDLE_MS = 250;

/** Config schema of the `stdin` source. */
export const stdinSourceConfig = Type.Object({ ...decodeFields }, { additionalProperties: false });

/** Options of the `stdin` source, defaults applied. */
export type StdinSourceConfig = Static<typeof stdinSourceConfig>;

/**
 * A source reading one byte stream (standard input unless another is given) as partition
 * `stdin`. Its position is the number of records read; it cannot resume, since the bytes read
 * before a restart are gone.
 */
export class StreamSource implements Source {
  readonly #options: DecodeOptions;
  readonly #input: Readable;

  constructor(options: DecodeOptions, input: Readable = process.stdin) {
    this.#options = options;
    this.#input = input;
  }

  async open(ctx: SourceContext): Promise<SourceReader[]> {
    if (ctx.restored.stdin !== undefined) {
      ctx.log.info('stdin cannot resume from a checkpoint; reading the new input from its start', {
        position: ctx.restored.stdin,
      });
    }
    return [new StreamReader(this.#input, createDecoder(this.#options), ctx.id, ctx.log)];
  }
}

class StreamReader implements SourceReader {
  readonly partition = 'stdin';
  readonly #input: Readable;
  readonly #decoder: RecordDecoder;
  readonly #step: string;
  readonly #log: Logger;
  #count = 0;
  #ended = false;
  #done = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  readonly #onReadable = () => this.#notify();
  readonly #onEnd = () => {
    this.#ended = true;
    this.#notify();
  };
  readonly #onError = (err: Error) => {
    this.#error = err;
    this.#notify();
  };

  constructor(input: Readable, decoder: RecordDecoder, step: string, log: Logger) {
    this.#input = input;
    this.#decoder = decoder;
    this.#step = step;
    this.#log = log;
    input.on('readable', this.#onReadable);
    input.on('end', this.#onEnd);
    input.on('error', this.#onError);
    if (input.readableEnded) this.#ended = true;
  }

  position(): number {
    return this.#count;
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    if (this.#done) return null;
    const decoder = this.#decoder;
    const out = decoder.newOutput();
    for (;;) {
      let count = out.records.length + out.failures.length;
      if (count < max) count += decoder.decode(out, max - count, false);
      if (count >= max) return this.#batch(out);
      if (this.#error !== null) {
        throw new SluiceError('IO_ERROR', `cannot read stdin: ${this.#error.message}`, {
          step: this.#step,
          cause: this.#error,
        });
      }
      const chunk: unknown = this.#input.read();
      if (chunk !== null) {
        decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
        continue;
      }
      if (this.#ended) {
        decoder.decode(out, max - count, true);
        if (out.records.length + out.failures.length > 0) return this.#batch(out);
        this.#log.debug('stdin ended', { records: this.#count });
        await this.close();
        return null;
      }
      if (count > 0 || signal.aborted) return this.#batch(out);
      if (!(await this.#waitForInput(signal))) return this.#batch(out);
    }
  }

  async close(): Promise<void> {
    this.#done = true;
    const input = this.#input;
    input.off('readable', this.#onReadable);
    input.off('end', this.#onEnd);
    input.off('error', this.#onError);
    input.pause();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Waits for input, its end or an error: true; false after IDLE_MS or on abort. */
  #waitForInput(signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const finish = (woken: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#wake = null;
        resolve(woken);
      };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), IDLE_MS);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#wake = () => finish(true);
    });
  }

  #batch(out: DecodeOutput): SourceBatch {
    this.#count += out.records.length + out.failures.length;
    return sourceBatchOf(out);
  }
}

/** The `stdin` source spec. */
export const stdinSource = defineSource({
  type: 'stdin',
  delivery: 'at-most-once',
  // Whatever is piped in: no option names the data, and no position is kept.
  identity: [],
  summary: 'Reads JSON lines, CSV or text from standard input until it ends.',
  description: [
    'One partition, `stdin`, read until end of input (so the source is bounded). Records are',
    'decoded like the `file` source does (same `format` and CSV options); the offset of a record',
    '(in dead letters) is the byte offset of its first byte in the input.',
    '',
    'The position is the number of records read. It cannot be resumed: input read before a',
    'restart is gone, so a restarted job reads its new standard input from the start. Delivery is',
    'therefore at-most-once: what was read after the last checkpoint is lost in a crash.',
  ].join('\n'),
  config: stdinSourceConfig,
  example: ['type: stdin', 'format: csv', 'delimiter: ";"'].join('\n'),
  bounded: () => true,
  create: (config) => new StreamSource(config),
});
