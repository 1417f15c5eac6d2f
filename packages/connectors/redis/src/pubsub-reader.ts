/**
 * The one partition of a `redis` source in `mode: pubsub`: a subscriber whose messages wait in a
 * bounded buffer until read. At-most-once: Redis keeps nothing for a subscriber, so messages
 * published while it is disconnected, and those buffered at a crash, are lost.
 */

import {
  type DecodeFailure,
  type Logger,
  ReadWait,
  type Row,
  type SourceBatch,
  type SourceContext,
  type SourceReader,
} from '@sluice/core';
import { destroy, type RedisClient } from './connection.ts';
import { decodeJson } from './decode.ts';

const IDLE_MS = 200;

interface Message {
  channel: string;
  message: string;
}

export class PubSubReader implements SourceReader {
  readonly partition = 'pubsub';
  readonly #format: 'json' | 'text';
  readonly #maxDepth: number;
  readonly #capacity: number;
  readonly #ctx: SourceContext;
  readonly #log: Logger;
  #client: RedisClient | undefined;
  #buffer: Message[] = [];
  #head = 0;
  #dropped = 0;
  readonly #waiting = new ReadWait(IDLE_MS);
  #closed = false;

  constructor(settings: { format: 'json' | 'text'; maxDepth: number; capacity: number }, ctx: SourceContext) {
    this.#format = settings.format;
    this.#maxDepth = settings.maxDepth;
    this.#capacity = settings.capacity;
    this.#ctx = ctx;
    this.#log = ctx.log;
  }

  /** Subscribes `client` to `channels` (patterns where a name has `*`, `?` or `[`). */
  async subscribe(client: RedisClient, channels: readonly string[]): Promise<void> {
    this.#client = client;
    const listener = (message: string, channel: string) => this.#take(channel, message);
    const patterns = channels.filter((c) => /[*?[]/.test(c));
    const plain = channels.filter((c) => !patterns.includes(c));
    if (plain.length > 0) await client.subscribe(plain, listener);
    if (patterns.length > 0) await client.pSubscribe(patterns, listener);
  }

  #take(channel: string, message: string): void {
    if (this.#closed) return;
    if (this.#buffer.length - this.#head >= this.#capacity) {
      // Redis cannot be asked to wait: past the buffer, messages are dropped (and counted).
      if (this.#dropped++ % 1000 === 0)
        this.#log.warn('redis: pub/sub buffer full; dropping messages', {
          source: this.#ctx.id,
          dropped: this.#dropped,
        });
      return;
    }
    this.#buffer.push({ channel, message });
    this.#waiting.wake();
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    if (this.#closed) return null;
    if (this.#head === this.#buffer.length) await this.#waiting.until(signal);
    const records: Row[] = [];
    const texts: (string | undefined)[] = [];
    const failures: DecodeFailure[] = [];
    let anyText = false;
    while (this.#head < this.#buffer.length && records.length + failures.length < max) {
      const { channel, message } = this.#buffer[this.#head++] as Message;
      if (this.#format === 'text') {
        records.push({ channel, message });
        texts.push(undefined);
        continue;
      }
      const decoded = decodeJson(message, this.#maxDepth, `message on channel '${channel}'`);
      if ('failure' in decoded) {
        failures.push(decoded.failure);
        continue;
      }
      records.push(decoded.row);
      texts.push(decoded.text);
      anyText = true;
    }
    if (this.#head === this.#buffer.length) {
      this.#buffer = [];
      this.#head = 0;
    }
    const now = this.#ctx.clock.now();
    const batch: SourceBatch = { records, times: records.map(() => now) };
    if (anyText) batch.texts = texts;
    if (failures.length > 0) batch.failures = failures;
    return batch;
  }

  /** Nothing to resume: pub/sub has no position. */
  position(): null {
    return null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiting.wake();
    const client = this.#client;
    this.#client = undefined;
    try {
      if (client?.isOpen) await client.close();
    } catch {
      destroy(client);
    }
  }
}
