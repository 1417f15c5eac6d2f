/**
 * The line decoder: JSON Lines or plain text lines, split fast with exact byte offsets.
 */

import { isUtf8 } from 'node:buffer';
import type { Row } from '../record.ts';
import type { DecodeOutput, RecordDecoder } from './format-decode.ts';
import {
  type InputLimits,
  invalidUtf8At,
  invalidUtf8Message,
  type JsonOutcome,
  parseJsonText,
} from './input-guards.ts';

/** Whether `bytes` at `at` hold the UTF-8 byte-order mark. */
export function isBom(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === 0xef && bytes[at + 1] === 0xbb && bytes[at + 2] === 0xbf;
}

const EMPTY = Buffer.alloc(0);

/** Bytes of an over-long line its dead letter keeps as payload. */
const LONG_LINE_HEAD = 1024;

/** Parses one JSON line into `outcome`: an object, or an error (none for a blank line). */
function parseJsonLine(line: string, maxDepth: number, outcome: JsonOutcome): void {
  parseJsonText(line, maxDepth, outcome);
  if (outcome.error !== undefined) {
    if (line.trim() === '') outcome.error = undefined;
    return;
  }
  const v = outcome.value;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    outcome.value = undefined;
    outcome.error = `a JSON line must hold an object, not ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`;
  }
}

/**
 * Decodes newline-separated records: JSON objects, or `{ line }` for text. Bytes are taken a
 * region at a time (everything up to the last `\n` pushed), decoded to one string and split with
 * `indexOf`. In a pure-ASCII region character and byte offsets agree; in any other region the
 * byte offset of each line is found by stepping through the bytes' `\n`s in step with the
 * text's (a UTF-8 decoder never swallows a `\n`, even after invalid bytes), so offsets stay exact.
 * Each region is checked with `isUtf8`; only in a region that fails is each line checked, and
 * a line with invalid bytes is a failure (payload: its bytes in base64) unless `invalidUtf8` is
 * `replace`. JSON lines go through `parseJsonText` (depth and number range).
 *
 * A line longer than `maxLine` bytes is a failure holding its first kilobyte. Bytes of a line
 * still without its `\n` past `maxLine` are dropped as they arrive until the `\n` comes; meanwhile
 * `offset` stays at the line's start, so a checkpoint taken then resumes before it.
 */
export class LineDecoder implements RecordDecoder {
  readonly columns = undefined;
  readonly #json: boolean;
  readonly #limits: InputLimits;
  readonly #outcome: JsonOutcome = { value: undefined, error: undefined };
  /** Bytes after the current region, not yet scanned for lines. */
  #chunks: Buffer[] = [];
  #chunkBytes = 0;
  /** How many of the leading `#chunks` are known to hold no `\n`. */
  #scanned = 0;
  #region: Buffer = EMPTY;
  /** The region decoded (after a byte-order mark, when it starts the stream). */
  #text = '';
  /** Whether the region is pure ASCII: one char per byte. */
  #ascii = true;
  /** Whether the region is valid UTF-8 (or invalid bytes are to be replaced). */
  #valid = true;
  /** Index in `#region` where `#text` starts (3 after a byte-order mark). */
  #textStart = 0;
  /** Next char of `#text` to decode. */
  #textPos = 0;
  /** Next byte of `#region` to decode (the byte offset of `#text[#textPos]`). */
  #pos = 0;
  /** Stream offset of `#region[0]`. */
  #base = 0;
  #atStart = true;
  readonly #maxLine: number;
  /** `max_line` as configured, for messages. */
  readonly #maxLineText: string;
  /** An over-long line being skipped: where it starts and its first bytes. */
  #longLine: { offset: number; head: Buffer } | undefined;

  constructor(
    json: boolean,
    limits: InputLimits,
    maxLine = Number.POSITIVE_INFINITY,
    maxLineText = String(maxLine),
  ) {
    this.#json = json;
    this.#limits = limits;
    this.#maxLine = maxLine;
    this.#maxLineText = maxLineText;
  }

  get offset(): number {
    return this.#longLine?.offset ?? this.#base + this.#pos;
  }

  get pending(): number {
    return this.#region.length - this.#pos + this.#chunkBytes;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const chunk = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#chunks.push(chunk);
    this.#chunkBytes += chunk.length;
  }

  reset(offset: number): void {
    this.#chunks = [];
    this.#chunkBytes = 0;
    this.#scanned = 0;
    this.#region = EMPTY;
    this.#text = '';
    this.#textStart = 0;
    this.#textPos = 0;
    this.#pos = 0;
    this.#base = offset;
    this.#atStart = offset === 0;
    this.#longLine = undefined;
  }

  newOutput(): DecodeOutput {
    return this.#json
      ? { records: [], offsets: [], failures: [], texts: [] }
      : { records: [], offsets: [], failures: [] };
  }

  decode(out: DecodeOutput, max: number, final: boolean): number {
    let n = 0;
    while (n < max) {
      if (this.#pos >= this.#region.length) {
        if (this.#longLine !== undefined) {
          if (!this.#skipLongLine(out, final)) break;
          n++;
          continue;
        }
        if (!this.#nextRegion(final)) {
          if (this.#chunkBytes <= this.#maxLine) break;
          this.#beginLongLine();
          continue;
        }
      }
      n += this.#decodeRegion(out, max - n);
    }
    return n;
  }

  /** The pending bytes (a line without its `\n`) passed `maxLine`: keep its head, drop the rest. */
  #beginLongLine(): void {
    let start = this.#base + this.#region.length;
    const head = Buffer.concat(this.#chunks).subarray(0, LONG_LINE_HEAD + 3);
    let headStart = 0;
    if (this.#atStart) {
      this.#atStart = false;
      if (isBom(head, 0)) headStart = 3;
    }
    this.#longLine = {
      offset: start + headStart,
      head: Buffer.from(head.subarray(headStart, headStart + LONG_LINE_HEAD)),
    };
    start += this.#chunkBytes;
    this.#base = start;
    this.#region = EMPTY;
    this.#text = '';
    this.#textStart = 0;
    this.#textPos = 0;
    this.#pos = 0;
    this.#chunks = [];
    this.#chunkBytes = 0;
    this.#scanned = 0;
  }

  /**
   * Drops pending bytes up to the `\n` that ends the long line; once found (or at the end of the
   * input) adds its failure and returns true.
   */
  #skipLongLine(out: DecodeOutput, final: boolean): boolean {
    const line = this.#longLine!;
    let dropped = 0;
    let k = 0;
    let found = false;
    for (; k < this.#chunks.length; k++) {
      const nl = this.#chunks[k].indexOf(0x0a);
      if (nl >= 0) {
        dropped += nl + 1;
        const rest = this.#chunks[k].subarray(nl + 1);
        this.#chunks = rest.length > 0 ? [rest, ...this.#chunks.slice(k + 1)] : this.#chunks.slice(k + 1);
        found = true;
        break;
      }
      dropped += this.#chunks[k].length;
    }
    if (!found) this.#chunks = [];
    this.#base += dropped;
    this.#chunkBytes -= dropped;
    this.#scanned = 0;
    if (!found && !final) return false;
    const length = this.#base - line.offset - (found ? 1 : 0);
    out.failures.push({
      payload: `${line.head.toString('utf8')}…`,
      message: `a line of ${length} bytes, longer than max_line (${this.#maxLineText}); skipped`,
      offset: line.offset,
    });
    this.#longLine = undefined;
    return true;
  }

  /** Makes the complete lines among the pushed bytes the current region; false when there are none. */
  #nextRegion(final: boolean): boolean {
    const chunks = this.#chunks;
    if (chunks.length === 0) return false;
    let k = chunks.length - 1;
    let nl = -1;
    for (; k >= this.#scanned; k--) {
      nl = chunks[k].lastIndexOf(0x0a);
      if (nl >= 0) break;
    }
    if (nl < 0) {
      this.#scanned = chunks.length;
      if (!final) return false;
      k = chunks.length - 1;
      nl = chunks[k].length - 1;
    }
    const head = chunks[k].subarray(0, nl + 1);
    const region = k === 0 ? head : Buffer.concat([...chunks.slice(0, k), head]);
    const tail = chunks[k].subarray(nl + 1);
    this.#chunks = tail.length > 0 ? [tail, ...chunks.slice(k + 1)] : chunks.slice(k + 1);
    this.#chunkBytes -= region.length;
    this.#scanned = 0;
    this.#base += this.#region.length;
    this.#region = region;
    let start = 0;
    if (this.#atStart) {
      this.#atStart = false;
      if (isBom(region, 0)) start = 3;
    }
    this.#textStart = start;
    this.#pos = start;
    this.#textPos = 0;
    this.#text = region.toString('utf8', start);
    this.#valid =
      this.#limits.invalidUtf8 === 'replace' || isUtf8(start === 0 ? region : region.subarray(start));
    this.#ascii = this.#valid && this.#text.length === region.length - start;
    return true;
  }

  #decodeRegion(out: DecodeOutput, room: number): number {
    const text = this.#text;
    const len = text.length;
    const region = this.#region;
    const regionEnd = region.length;
    const ascii = this.#ascii;
    const shift = this.#textStart;
    const json = this.#json;
    const valid = this.#valid;
    const maxDepth = this.#limits.maxDepth;
    const outcome = this.#outcome;
    const { records, offsets, failures, texts } = out;
    let offset = this.#base + this.#pos;
    let p = this.#textPos;
    let b = this.#pos;
    let n = 0;
    while (n < room && p < len) {
      let e = text.indexOf('\n', p);
      if (e < 0) e = len;
      const le = e > p && text.charCodeAt(e - 1) === 0x0d ? e - 1 : e;
      let bad = -1;
      let lineEnd = 0;
      if (!valid && le > p) {
        const nl = region.indexOf(0x0a, b);
        lineEnd = nl < 0 ? regionEnd : nl;
        if (lineEnd > b && region[lineEnd - 1] === 0x0d) lineEnd--;
        bad = invalidUtf8At(region, b, lineEnd);
      }
      if (le > p && this.#tooLong(text, p, le, ascii)) {
        failures.push({
          payload: `${text.slice(p, p + LONG_LINE_HEAD)}…`,
          message: `a line of ${Buffer.byteLength(text.slice(p, le))} bytes, longer than max_line (${this.#maxLineText}); skipped`,
          offset,
        });
        n++;
      } else if (bad >= 0) {
        failures.push({
          payload: region.toString('base64', b, lineEnd),
          message: invalidUtf8Message(bad - b),
          offset,
        });
        n++;
      } else if (le > p) {
        const line = text.slice(p, le);
        if (!json) {
          records.push({ line });
          offsets.push(offset);
          n++;
        } else {
          parseJsonLine(line, maxDepth, outcome);
          if (outcome.value !== undefined) {
            records.push(outcome.value as Row);
            offsets.push(offset);
            if (texts) texts.push(line);
            n++;
          } else if (outcome.error !== undefined) {
            failures.push({ payload: line, message: outcome.error, offset });
            n++;
          }
        }
      }
      p = e + 1;
      if (ascii) {
        b = shift + p;
      } else {
        const nl = region.indexOf(0x0a, b);
        b = nl < 0 ? regionEnd : nl + 1;
      }
      offset = this.#base + b;
    }
    this.#textPos = Math.min(p, len);
    this.#pos = Math.min(b, regionEnd);
    return n;
  }

  /** Whether the line `text[from, to)` is longer than `maxLine` bytes. */
  #tooLong(text: string, from: number, to: number, ascii: boolean): boolean {
    const chars = to - from;
    if (chars > this.#maxLine) return true;
    if (ascii || chars * 3 <= this.#maxLine) return false;
    return Buffer.byteLength(text.slice(from, to)) > this.#maxLine;
  }
}
