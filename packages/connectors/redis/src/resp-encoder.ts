/**
 * RESP encoding of the `redis` sink's batches (`resp-pipeline.ts` writes them): the commands of a
 * batch as arrays of bulk strings in one reused buffer, written straight from the records.
 */

import type { Row } from '@sluice/core';
import type { CommandWriter } from './commands.ts';
import { fieldText } from './encode.ts';
import type { Template } from './template.ts';

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;
const MINUS = 45;

/** Command headers are cached for commands of at most this many strings. */
const MAX_CACHED_COUNT = 32;

/** Text up to this many UTF-16 units is written by a loop, longer text by Buffer#write. */
const SHORT = 64;

/** The number of decimal digits of a non-negative integer. */
function digitCount(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/**
 * A batch of commands as RESP (arrays of bulk strings) in one growing buffer, reused from batch to
 * batch, with the record each command was written for. Byte lengths are not computed apart: each
 * string is written once, after a length prefix sized for its character count, and moved in the
 * rare case its UTF-8 bytes need more digits.
 */
export class RespEncoder implements CommandWriter {
  #buf: Buffer;
  #pos = 0;
  /** Where each command of the batch starts, and the end of the last (`count + 1` entries). */
  readonly #starts: number[] = [0];
  /** The number of commands (the arrays are written by index, not emptied: they keep their room). */
  #count = 0;
  /** The record of each command, and its name. */
  readonly #records: number[] = [];
  readonly #names: string[] = [];
  /** Constant arguments (command names, options) encoded once. */
  readonly #constants = new Map<string, Buffer>();
  /** The constant written last (most batches repeat one command name): no lookup. */
  #lastConstant: string | undefined;
  #lastBytes: Buffer | undefined;
  /** The bulk string being written: where its `$` is, the digits its prefix has room for, its body. */
  #argAt = 0;
  #guess = 0;
  #body = 0;
  /** The field texts of a template being filled. */
  readonly #texts: string[] = [];
  /** Command headers (`*count` and the name's bulk string) encoded once, by name and count. */
  readonly #headers = new Map<string, (Buffer | undefined)[]>();
  /** The template filled last (most batches fill one) and its literal parts as UTF-8. */
  #template: Template | undefined;
  #templateParts: readonly Buffer[] = [];

  constructor(initialSize = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(initialSize);
  }

  /** The number of commands encoded since the last `reset`. */
  get count(): number {
    return this.#count;
  }

  /** The record command `j` was written for. */
  recordOf(j: number): number {
    return this.#records[j] as number;
  }

  /** The name of command `j` (`HSET`). */
  nameOf(j: number): string {
    return this.#names[j] as string;
  }

  /** Empties the batch (the buffer is kept). */
  reset(): void {
    this.#pos = 0;
    this.#count = 0;
  }

  /** Encodes one command, `args[0]` its name, for record `record`. */
  command(args: readonly string[], record = -1): void {
    const n = args.length;
    this.begin(record, args[0] as string, n);
    for (let i = 1; i < n; i++) this.arg(args[i] as string);
    this.end();
  }

  /** Starts a command of `count` strings, `name` the first: `*count\r\n$…\r\nname\r\n`. */
  begin(record: number, name: string, count: number): void {
    let byCount = this.#headers.get(name);
    const header = byCount?.[count];
    if (header !== undefined) this.#copy(header);
    else {
      const start = this.#pos;
      this.#ensure(24);
      const buf = this.#buf;
      buf[this.#pos++] = STAR;
      this.#pos = writeDigits(buf, this.#pos, count);
      buf[this.#pos++] = CR;
      buf[this.#pos++] = LF;
      this.constant(name);
      // Kept for the counts a command of a few fields has; the names are the sink's own few.
      if (count <= MAX_CACHED_COUNT) {
        if (byCount === undefined) {
          byCount = [];
          this.#headers.set(name, byCount);
        }
        byCount[count] = Buffer.from(this.#buf.subarray(start, this.#pos));
      }
    }
    this.#records[this.#count] = record;
    this.#names[this.#count] = name;
  }

  /** Ends the command begun last. */
  end(): void {
    this.#starts[++this.#count] = this.#pos;
  }

  /** A string that recurs in every batch (a command name, `MAXLEN`): its encoding is cached. */
  constant(s: string): void {
    let bytes = s === this.#lastConstant ? this.#lastBytes : this.#constants.get(s);
    if (bytes === undefined) {
      const body = Buffer.from(s, 'utf8');
      bytes = Buffer.concat([Buffer.from(`$${body.length}\r\n`, 'latin1'), body, Buffer.from('\r\n')]);
      this.#constants.set(s, bytes);
    }
    this.#lastConstant = s;
    this.#lastBytes = bytes;
    this.#copy(bytes);
  }

  /** `bytes` at the end: a short run byte by byte (cheaper than `set`'s call), a longer one by `set`. */
  #copy(bytes: Buffer): void {
    const n = bytes.length;
    this.#ensure(n);
    const buf = this.#buf;
    const at = this.#pos;
    if (n <= 16) for (let i = 0; i < n; i++) buf[at + i] = bytes[i] as number;
    else buf.set(bytes, at);
    this.#pos = at + n;
  }

  /** One bulk string: `$<bytes>\r\n<UTF-8 bytes>\r\n`. */
  arg(s: string): void {
    this.#open(s.length);
    this.#put(s);
    this.#close();
  }

  /** The bulk string of `template` filled from `record`, written part by part (no string built). */
  filled(template: Template, record: Row): void {
    const { parts, fields } = template;
    if (fields.length === 1) {
      // The usual key, `prefix:{id}`: no list of texts, the literal parts copied as bytes.
      if (template !== this.#template) {
        this.#template = template;
        this.#templateParts = parts.map((p) => Buffer.from(p, 'utf8'));
      }
      const head = this.#templateParts[0] as Buffer;
      const tail = this.#templateParts[1] as Buffer;
      const value = record[fields[0] as string];
      if (typeof value === 'number' && Number.isSafeInteger(value)) {
        // An integer id: its digits written in place, the length known exactly (no text built).
        const negative = value < 0;
        const magnitude = negative ? -value : value;
        const digits = digitCount(magnitude) + (negative ? 1 : 0);
        const bytes = head.length + digits + tail.length;
        this.#ensure(bytes + 16);
        const buf = this.#buf;
        buf[this.#pos] = DOLLAR;
        this.#pos = writeDigits(buf, this.#pos + 1, bytes);
        buf[this.#pos++] = CR;
        buf[this.#pos++] = LF;
        this.#copy(head);
        if (negative) buf[this.#pos++] = MINUS;
        this.#pos = writeDigits(buf, this.#pos, magnitude);
        this.#copy(tail);
        buf[this.#pos++] = CR;
        buf[this.#pos++] = LF;
        return;
      }
      const text = fieldText(value);
      this.#open(head.length + text.length + tail.length);
      this.#copy(head);
      this.#put(text);
      this.#copy(tail);
      this.#close();
      return;
    }
    const texts = this.#texts;
    let chars = 0;
    for (let i = 0; i < fields.length; i++) {
      const text = fieldText(record[fields[i] as string]);
      texts[i] = text;
      chars += text.length;
    }
    for (let i = 0; i < parts.length; i++) chars += (parts[i] as string).length;
    this.#open(chars);
    this.#put(parts[0] as string);
    for (let i = 0; i < fields.length; i++) {
      this.#put(texts[i] as string);
      this.#put(parts[i + 1] as string);
    }
    this.#close();
  }

  /** Starts a bulk string of `chars` UTF-16 units, with a length prefix sized for `chars` bytes. */
  #open(chars: number): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the prefix at most 1 + 10 + 2 bytes.
    this.#ensure(chars * 3 + 16);
    this.#argAt = this.#pos;
    this.#guess = digitCount(chars);
    this.#pos += this.#guess + 3;
    this.#body = this.#pos;
  }

  /**
   * Writes `s` as UTF-8 at the end: short ASCII text byte by byte (cheaper than a call into the
   * binding up to some 64 characters: keys with a long prefix stay on this path), anything else
   * with Buffer#write.
   */
  #put(s: string): void {
    const n = s.length;
    const buf = this.#buf;
    const at = this.#pos;
    if (n <= SHORT) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === n) {
        this.#pos = at + n;
        return;
      }
    }
    this.#pos = at + buf.write(s, at, 'utf8');
  }

  /** Ends the bulk string begun last: its length prefix (moved when it needs more digits) and CR LF. */
  #close(): void {
    const buf = this.#buf;
    let body = this.#body;
    const bytes = this.#pos - body;
    const digits = digitCount(bytes);
    if (digits !== this.#guess) {
      buf.copyWithin(body + digits - this.#guess, body, body + bytes);
      body += digits - this.#guess;
    }
    const at = this.#argAt;
    buf[at] = DOLLAR;
    writeDigits(buf, at + 1, bytes);
    buf[body - 2] = CR;
    buf[body - 1] = LF;
    buf[body + bytes] = CR;
    buf[body + bytes + 1] = LF;
    this.#pos = body + bytes + 2;
  }

  /** The bytes of the batch (a view of the encoder's buffer: valid until the next `reset`). */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  /** The bytes of commands `commands` (positions in the batch, in order), as a copy. */
  select(commands: readonly number[]): Buffer {
    const parts: Buffer[] = [];
    for (const j of commands) parts.push(this.#buf.subarray(this.#starts[j], this.#starts[j + 1]));
    return Buffer.concat(parts);
  }

  #ensure(more: number): void {
    if (this.#pos + more <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + more));
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }
}

/** Writes `n` (a non-negative integer) in decimal at `at`; returns the position after it. */
function writeDigits(buf: Buffer, at: number, n: number): number {
  if (n < 10) {
    buf[at] = 48 + n;
    return at + 1;
  }
  const end = at + digitCount(n);
  let p = end;
  while (n >= 10) {
    const q = Math.floor(n / 10);
    buf[--p] = 48 + (n - q * 10);
    n = q;
  }
  buf[--p] = 48 + n;
  return end;
}

/** Encodes one command on its own (a copy). */
export function encodeCommand(args: readonly string[]): Buffer {
  const encoder = new RespEncoder(256);
  encoder.command(args);
  return Buffer.from(encoder.bytes());
}
