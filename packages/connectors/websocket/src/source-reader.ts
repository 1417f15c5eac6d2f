/**
 * The one partition of a `websocket` source: a client connection to a push API, reconnected with
 * capped exponential backoff, the messages received and not read yet, and the position of the
 * last record read.
 *
 * On each connection the reader sends the subscribe message, or — with `resume: message`, once a
 * position is known (a record read on an earlier connection, or the checkpoint restored) — the
 * resume message with the position of the last record received, so that the API sends what came
 * after it. Messages received stay buffered across a reconnect; when `max_buffered` of them wait,
 * the reader stops reading the socket (TCP flow control) until the pipeline has read half.
 * Nothing is acknowledged: the position in the checkpoint is all a restart has.
 */

import {
  backoffDelay,
  type DecodeFailure,
  decodeMessageBody,
  type Logger,
  type MessageBodyOptions,
  ReadWait,
  type Row,
  type SourceBatch,
  type SourceContext,
  type SourceReader,
} from '@sluice/core';
import WebSocket, { type RawData } from 'ws';

/** A read with nothing buffered returns an empty batch after this long. */
const IDLE_MS = 200;

/** The partition id of the one reader of a `websocket` source. */
export const READER_ID = 'stream';

/** What the checkpoint keeps: the position of the last record read (null: none has one yet). */
export interface WebsocketPosition {
  position: unknown;
}

export function isWebsocketPosition(value: unknown): value is WebsocketPosition {
  return typeof value === 'object' && value !== null && 'position' in value;
}

export interface WebsocketReaderSettings {
  readonly url: string;
  readonly headers: { readonly [name: string]: string };
  readonly subscribeMessage?: string;
  /** With `resume: message`: the resume message template and the position field. */
  readonly resume?: { readonly message: string; readonly field: string };
  readonly payload: MessageBodyOptions;
  readonly maxBuffered: number;
  readonly initialBackoff: number;
  readonly maxBackoff: number;
}

/** One message received: its record or why it is none, and the position after it. */
interface Received {
  row?: Row;
  text?: string;
  failure?: DecodeFailure;
  position: unknown;
  /** When it arrived: the record's time unless the pipeline takes one from a field. */
  time: number;
}

function bytesOf(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class WebsocketReader implements SourceReader {
  readonly partition = READER_ID;
  readonly #s: WebsocketReaderSettings;
  readonly #ctx: SourceContext;
  readonly #log: Logger;
  #socket: WebSocket | undefined;
  #buffer: Received[] = [];
  #head = 0;
  /** Position after the last message received, and after the last record read. */
  #received: unknown;
  #read: unknown;
  /** Whether the socket is paused because the buffer is full. */
  #paused = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #connections = 0;
  #closed = false;
  readonly #waiting = new ReadWait(IDLE_MS);

  constructor(settings: WebsocketReaderSettings, ctx: SourceContext, restored: unknown) {
    this.#s = settings;
    this.#ctx = ctx;
    this.#log = ctx.log;
    const position = isWebsocketPosition(restored) ? restored.position : null;
    this.#received = position;
    this.#read = position;
  }

  /** How many connections were opened (the first included). */
  get connections(): number {
    return this.#connections;
  }

  /** Messages received and not read yet. */
  get buffered(): number {
    return this.#buffer.length - this.#head;
  }

  /** Opens the first connection (in the background: a read before it opens returns nothing). */
  start(): void {
    this.#connect();
  }

  #connect(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    const socket = new WebSocket(this.#s.url, { headers: { ...this.#s.headers } });
    this.#socket = socket;
    socket.on('open', () => {
      this.#connections++;
      const resume = this.#s.resume;
      const position = this.#received;
      if (resume !== undefined && position !== null && position !== undefined)
        socket.send(resume.message.replaceAll('{{position}}', JSON.stringify(position)));
      else if (this.#s.subscribeMessage !== undefined) socket.send(this.#s.subscribeMessage);
      if (this.#paused) socket.pause();
    });
    socket.on('message', (data) => {
      // Reset once the connection carries something: a server that accepts and drops at once
      // keeps backing off.
      this.#attempt = 0;
      this.#take(bytesOf(data));
    });
    socket.on('error', (err) => {
      this.#log.warn('websocket: connection failed', { source: this.#ctx.id, error: err.message });
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (this.#closed) return;
      const delay = Math.max(
        this.#s.initialBackoff / 2,
        backoffDelay(++this.#attempt, this.#s.initialBackoff, this.#s.maxBackoff),
      );
      this.#log.info('websocket: disconnected; reconnecting', {
        source: this.#ctx.id,
        attempt: this.#attempt,
        delay,
      });
      this.#timer = setTimeout(() => this.#connect(), delay);
    });
  }

  #take(bytes: Buffer): void {
    if (this.#closed) return;
    // A text frame's bytes are decoded as they are: `ws` has checked them as UTF-8 already (it
    // closes the connection on a text frame that is not), and turning them into a string here made
    // `decodeMessageBody` encode it back to bytes and decode it again (a tenth of the source's CPU).
    const decoded = decodeMessageBody(bytes, this.#s.payload);
    const time = this.#ctx.clock.now();
    let entry: Received;
    if ('failure' in decoded) entry = { failure: decoded.failure, position: this.#received, time };
    else {
      const field = this.#s.resume?.field;
      if (field !== undefined && decoded.row[field] !== undefined) this.#received = decoded.row[field];
      entry = { row: decoded.row, text: decoded.text, position: this.#received, time };
    }
    this.#buffer.push(entry);
    if (!this.#paused && this.buffered >= this.#s.maxBuffered) {
      this.#paused = true;
      this.#socket?.pause();
    }
    this.#waiting.wake();
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    if (this.#closed) return null;
    if (this.buffered === 0) await this.#waiting.until(signal);
    const records: Row[] = [];
    const times: number[] = [];
    const texts: (string | undefined)[] = [];
    const failures: DecodeFailure[] = [];
    let anyText = false;
    while (this.#head < this.#buffer.length && records.length + failures.length < max) {
      const e = this.#buffer[this.#head++] as Received;
      this.#read = e.position;
      if (e.failure !== undefined) {
        failures.push(e.failure);
        continue;
      }
      records.push(e.row as Row);
      times.push(e.time);
      texts.push(e.text);
      if (e.text !== undefined) anyText = true;
    }
    if (this.#head === this.#buffer.length) {
      this.#buffer = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#head);
      this.#head = 0;
    }
    if (this.#paused && this.buffered * 2 <= this.#s.maxBuffered) {
      this.#paused = false;
      this.#socket?.resume();
    }
    const batch: SourceBatch = { records, times };
    if (anyText) batch.texts = texts;
    if (failures.length > 0) batch.failures = failures;
    return batch;
  }

  position(): WebsocketPosition {
    return { position: this.#read ?? null };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#waiting.wake();
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return;
    if (socket.readyState === WebSocket.CONNECTING) {
      socket.terminate();
      return;
    }
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.close(1000);
    const timer = setTimeout(() => socket.terminate(), 2000);
    await closed;
    clearTimeout(timer);
  }
}
