/**
 * Request bodies of the `http_server` source: size limits, reading, and decoding JSON or NDJSON
 * into records and per-record failures.
 */

import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { DecodeFailure } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { safeJsonText } from '../safe-json.ts';
import {
  DEFAULT_INPUT_LIMITS,
  type InputLimits,
  invalidUtf8At,
  invalidUtf8Message,
  type JsonOutcome,
  jsonOverflowPath,
  jsonTooDeepAt,
  jsonValueProblem,
  parseJsonText,
} from './input-guards.ts';

/** How reading a body ended. */
export type BodyRead =
  | { readonly status: 'ok'; readonly body: Buffer }
  /** Larger than the limit; the rest of it was discarded. */
  | { readonly status: 'too-large' }
  /** `take` refused more bytes; the rest of it was discarded. */
  | { readonly status: 'busy' }
  /** The client went away before the body ended. */
  | { readonly status: 'aborted' };

/**
 * Reads a request body of at most `limit` bytes, asking `take` for room for each piece as it
 * arrives (`take(n)` false: no room). Stops reading as soon as either refuses; never rejects.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  take: (bytes: number) => boolean,
): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyRead) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      if (result.status !== 'ok' && result.status !== 'aborted') req.resume();
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish({ status: 'too-large' });
      if (!take(chunk.length)) return finish({ status: 'busy' });
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => finish({ status: 'ok', body: Buffer.concat(chunks, size) }));
    req.on('error', () => finish({ status: 'aborted' }));
    req.on('close', () =>
      finish(req.complete ? { status: 'ok', body: Buffer.concat(chunks, size) } : { status: 'aborted' }),
    );
  });
}

/** Body formats: a JSON object or array of objects, or one JSON object per line. */
export type BodyFormat = 'json' | 'ndjson';

const ndjsonTypes = /^application\/(x-)?(ndjson|jsonl|jsonlines|json-lines)\b/i;

/** The format of a body sent with this Content-Type: NDJSON for the NDJSON/JSON Lines types, else JSON. */
export function formatOfContentType(contentType: string | undefined): BodyFormat {
  return contentType && ndjsonTypes.test(contentType) ? 'ndjson' : 'json';
}

/** What a body decodes to. */
export interface DecodedBody {
  records: Row[];
  /** NDJSON: the line each record was parsed from (see `SourceBatch.texts`); JSON: absent. */
  texts?: string[];
  /** Lines or array elements that are not JSON objects, for the dead-letter output. */
  failures: DecodeFailure[];
}

const isObject = (value: unknown): value is Row =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Whether `value` nests arrays and objects deeper than `limit` (itself level 1); no recursion. */
function deeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** NDJSON lines, each parsed with the input limits; `prefix` numbers the line in messages. */
function decodeLine(
  line: string,
  number: number,
  limits: InputLimits,
  outcome: JsonOutcome,
  out: DecodedBody,
): void {
  if (line.trim() === '') return;
  parseJsonText(line, limits.maxDepth, outcome);
  if (outcome.error !== undefined)
    out.failures.push({ payload: line, message: `line ${number}: ${outcome.error}` });
  else if (isObject(outcome.value)) {
    out.records.push(outcome.value);
    out.texts?.push(line);
  } else out.failures.push({ payload: line, message: `line ${number}: not a JSON object` });
}

/** NDJSON from bytes that are not all UTF-8: each line with invalid bytes is a failure alone. */
function decodeNdjsonBytes(body: Buffer, limits: InputLimits, outcome: JsonOutcome, out: DecodedBody): void {
  let start = 0;
  for (let number = 1; start <= body.length; number++) {
    const nl = body.indexOf(0x0a, start);
    const next = nl < 0 ? body.length + 1 : nl + 1;
    let end = nl < 0 ? body.length : nl;
    if (end > start && body[end - 1] === 0x0d) end--;
    const bad = invalidUtf8At(body, start, end);
    if (bad >= 0) {
      out.failures.push({
        payload: body.toString('base64', start, end),
        message: `line ${number}: ${invalidUtf8Message(bad - start)}`,
      });
    } else {
      decodeLine(body.toString('utf8', start, end), number, limits, outcome, out);
    }
    start = next;
  }
}

/**
 * Decodes a body (bytes, or text already decoded). JSON: one object is one record, an array
 * gives one record per element, and an element that is not an object is a failure. NDJSON: one
 * record per non-blank line, and a line that is not a JSON object is a failure. The input limits
 * hold per record: a record nested deeper than `maxDepth` or holding a number beyond a double is
 * a failure, and so is an NDJSON line that is not UTF-8 (with `invalidUtf8: dead_letter`).
 * Throws DECODE_FAILED when a JSON body does not parse, is not UTF-8 (the whole body is one
 * document, so the request is refused) or is neither an object nor an array.
 */
export function decodeBody(
  body: string | Buffer,
  format: BodyFormat,
  limits: InputLimits = DEFAULT_INPUT_LIMITS,
): DecodedBody {
  const out: DecodedBody = { records: [], failures: [] };
  const outcome: JsonOutcome = { value: undefined, error: undefined };
  const strict = typeof body !== 'string' && limits.invalidUtf8 === 'dead_letter' && !isUtf8(body);
  if (format === 'ndjson') {
    out.texts = [];
    if (strict) {
      decodeNdjsonBytes(body, limits, outcome, out);
      return out;
    }
    const lines = (typeof body === 'string' ? body : body.toString('utf8')).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
      decodeLine(line, i + 1, limits, outcome, out);
    }
    return out;
  }
  if (strict) {
    const at = invalidUtf8At(body, 0, body.length);
    throw new SluiceError(
      'DECODE_FAILED',
      `body is not valid UTF-8 (byte ${at}); send UTF-8, or set invalid_utf8: replace on the source to read such bytes as U+FFFD`,
    );
  }
  const text = typeof body === 'string' ? body : body.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SluiceError(
      'DECODE_FAILED',
      `body is not valid JSON (${messageOf(err)}); for one object per line send Content-Type: application/x-ndjson`,
      { cause: err },
    );
  }
  if (isObject(value)) {
    const problem = jsonValueProblem(text, value, limits.maxDepth);
    if (problem === undefined) out.records.push(value);
    else out.failures.push({ payload: text, message: problem });
  } else if (Array.isArray(value)) {
    const deep = jsonTooDeepAt(text, limits.maxDepth + 1) >= 0;
    const huge = jsonOverflowPath(text, value) !== undefined;
    for (let i = 0; i < value.length; i++) {
      const element: unknown = value[i];
      let problem: string | undefined;
      if (!isObject(element)) problem = 'not a JSON object';
      else if (deep && deeperThan(element, limits.maxDepth))
        problem = `nested deeper than max_depth (${limits.maxDepth})`;
      else if (huge) {
        const path = jsonOverflowPath(text, element);
        if (path !== undefined)
          problem = `the number at ${path} is out of range (beyond ±1.8e308 it would become Infinity)`;
      }
      if (problem === undefined) out.records.push(element as Row);
      else
        out.failures.push({
          payload: safeJsonText(element, 1 << 20).text,
          message: `element ${i}: ${problem}`,
        });
    }
  } else {
    throw new SluiceError('DECODE_FAILED', 'body must be a JSON object or an array of objects');
  }
  return out;
}
