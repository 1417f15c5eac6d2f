/**
 * Checks that keep hostile input out of records: JSON nested deeper than a limit, numbers beyond
 * the range of a double, and bytes that are not UTF-8. Every decoder that reads text calls them
 * (file and stdin lines, CSV, `http_server` bodies, and the Kafka source's `json` and `string`
 * formats), and each is cheap on ordinary input: the depth scan runs only on texts long enough to
 * be too deep, the number check only on texts holding a three-digit exponent or a 309-digit run,
 * and UTF-8 is validated by `buffer.isUtf8` (simdutf) over whole regions.
 */

import { isUtf8 } from 'node:buffer';

/**
 * Default deepest nesting of arrays and objects a decoded value may have: Jackson's default
 * (`StreamReadConstraints`, 1000).
 */
export const DEFAULT_MAX_DEPTH = 1000;
/**
 * Largest `max_depth` a source accepts: deeper values overflow the JavaScript stack when a sink
 * writes them as JSON or a checkpoint stores them (both recurse; ~3,000 levels fit).
 */
export const MAX_MAX_DEPTH = 2000;

/** What a decoder does with bytes that are not UTF-8: a dead letter, or U+FFFD in their place. */
export type InvalidUtf8 = 'dead_letter' | 'replace';

/** The input limits of a decoder, defaults applied. */
export interface InputLimits {
  readonly maxDepth: number;
  readonly invalidUtf8: InvalidUtf8;
}

/** The limits a decoder uses when none are configured. */
export const DEFAULT_INPUT_LIMITS: InputLimits = { maxDepth: DEFAULT_MAX_DEPTH, invalidUtf8: 'dead_letter' };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Returns the index in `text` of the `[` or `{` that opens level `maxDepth + 1`, or -1 when the
 * JSON text nests no deeper than `maxDepth` (brackets inside strings do not count). A text
 * shorter than `2 × (maxDepth + 1)` characters cannot nest deeper and is not scanned.
 */
export function jsonTooDeepAt(text: string, maxDepth: number): number {
  const len = text.length;
  if (len < 2 * (maxDepth + 1)) return -1;
  let depth = 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = text.indexOf('"', i + 1);
      while (j > 0) {
        let k = j - 1;
        while (text.charCodeAt(k) === BACKSLASH) k--;
        if ((j - 1 - k) % 2 === 0) break;
        j = text.indexOf('"', j + 1);
      }
      if (j < 0) return -1;
      i = j;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return -1;
}

/**
 * Number tokens that may overflow a double: a three-digit exponent, or a run of 309 digits
 * (tested only on texts that long). Two patterns: one alternation of both costs several times
 * more per text in V8, as much as a good part of `JSON.parse`.
 */
const BIG_EXPONENT = /[eE][+-]?\d\d\d/;
const LONG_DIGITS = /\d{309}/;

/** Whether `text` holds a token that may be a number beyond the range of a double. */
function mayOverflow(text: string): boolean {
  return BIG_EXPONENT.test(text) || (text.length >= 309 && LONG_DIGITS.test(text));
}

/**
 * Returns where `value`, parsed from JSON `text`, holds a number that overflowed to ±Infinity
 * (`$.a[2]`), or undefined. Only texts that hold a candidate number token are walked.
 */
export function jsonOverflowPath(text: string, value: unknown): string | undefined {
  if (!mayOverflow(text)) return undefined;
  const stack: [unknown, string][] = [[value, '$']];
  while (stack.length > 0) {
    const [v, path] = stack.pop() as [unknown, string];
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return path;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (typeof v === 'object' && v !== null) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i];
        const step = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
        stack.push([(v as { [k: string]: unknown })[key], path + step]);
      }
    }
  }
  return undefined;
}

/**
 * Returns why `value`, just parsed from JSON `text`, must not become a record — nesting deeper
 * than `maxDepth`, or a number beyond the range of a double, which `JSON.parse` turned into
 * Infinity — or undefined. For decoders that parse themselves (the Kafka source).
 */
export function jsonValueProblem(text: string, value: unknown, maxDepth: number): string | undefined {
  const deepAt = jsonTooDeepAt(text, maxDepth);
  if (deepAt >= 0) {
    return (
      `nested deeper than max_depth (${maxDepth}) at character ${deepAt + 1}; ` +
      `raise the source's max_depth (at most ${MAX_MAX_DEPTH}) if such records are expected`
    );
  }
  if (typeof value === 'number') {
    return Number.isFinite(value)
      ? undefined
      : 'the number is out of range (beyond ±1.8e308 it would become Infinity)';
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const path = jsonOverflowPath(text, value);
  if (path === undefined) return undefined;
  return (
    `the number at ${path} is out of range (beyond ±1.8e308 it would become Infinity); ` +
    'send it as a string to keep its digits'
  );
}

/** Outcome of `parseJsonText`: a value, or why the text is not one. */
export interface JsonOutcome {
  value: unknown;
  error: string | undefined;
}

/**
 * Parses JSON text into `outcome` (reused, so the hot path allocates nothing more than
 * `JSON.parse` does): `error` says why a text is refused — a syntax error, or what
 * `jsonValueProblem` finds. The text is parsed first (V8's parser does not recurse, so depth
 * cannot hurt it).
 */
export function parseJsonText(text: string, maxDepth: number, outcome: JsonOutcome): void {
  outcome.value = undefined;
  outcome.error = undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    outcome.error = `invalid JSON: ${(err as Error).message}`;
    return;
  }
  const problem = jsonValueProblem(text, v, maxDepth);
  if (problem === undefined) outcome.value = v;
  else outcome.error = problem;
}

/**
 * Returns the index of the first byte of `bytes[start, end)` that does not begin a valid UTF-8
 * sequence (overlong forms, surrogates and code points beyond U+10FFFF are invalid, as is a
 * sequence cut by `end`), or -1 when the range is valid UTF-8.
 */
export function invalidUtf8At(bytes: Uint8Array, start: number, end: number): number {
  if (isUtf8(bytes.subarray(start, end))) return -1;
  let i = start;
  while (i < end) {
    const c = bytes[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      min = 0x80;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      min = 0x800;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      min = 0x10000;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + n >= end) return i;
    for (let k = 1; k <= n; k++) {
      const d = bytes[i + k];
      if ((d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** The message of a dead letter for text with invalid UTF-8 at byte `at` of the record. */
export function invalidUtf8Message(at: number): string {
  return (
    `invalid UTF-8 at byte ${at} of the record (the payload is its bytes in base64); fix the ` +
    "producer's encoding, or set the source's invalid_utf8: replace to read such bytes as U+FFFD"
  );
}

/**
 * Returns why `bytes[start, end)` is not acceptable text under `limits`: invalid UTF-8 when
 * `invalidUtf8` is `dead_letter`; undefined when the bytes are valid or are to be replaced.
 */
export function utf8Problem(
  bytes: Uint8Array,
  start: number,
  end: number,
  invalidUtf8: InvalidUtf8,
): string | undefined {
  if (invalidUtf8 === 'replace') return undefined;
  const at = invalidUtf8At(bytes, start, end);
  return at < 0 ? undefined : invalidUtf8Message(at - start);
}

/**
 * `utf8Problem` for bytes already decoded into `text` by Node's UTF-8 decoder, which puts U+FFFD
 * in place of every invalid sequence: text without U+FFFD came from valid UTF-8, so only text
 * holding one (a replacement, or a real U+FFFD) has its bytes checked. A decoder reading one value
 * at a time saves a view and a validation pass per value (about 45 ns of a 185-byte record).
 */
export function decodedUtf8Problem(
  text: string,
  bytes: Uint8Array,
  start: number,
  end: number,
  invalidUtf8: InvalidUtf8,
): string | undefined {
  if (invalidUtf8 === 'replace' || !text.includes('\uFFFD')) return undefined;
  return utf8Problem(bytes, start, end, invalidUtf8);
}
