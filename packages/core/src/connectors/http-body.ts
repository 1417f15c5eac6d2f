/**
 * Request bodies of the `http_server` source: size limits, reading, and decoding JSON or NDJSON
 * into records and per-record failures.
 */

import type { IncomingMessage } from 'node:http';
import type { DecodeFailure } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';

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

/**
 * Decodes a body. JSON: one object is one record, an array gives one record per element, and an
 * element that is not an object is a failure. NDJSON: one record per non-blank line, and a line
 * that is not a JSON object is a failure. Throws DECODE_FAILED when a JSON body does not parse or
 * is neither an object nor an array.
 */
export function decodeBody(text: string, format: BodyFormat): DecodedBody {
  const records: Row[] = [];
  const failures: DecodeFailure[] = [];
  if (format === 'ndjson') {
    const texts: string[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
      if (line.trim() === '') continue;
      try {
        const value: unknown = JSON.parse(line);
        if (isObject(value)) {
          records.push(value);
          texts.push(line);
        } else failures.push({ payload: line, message: `line ${i + 1}: not a JSON object` });
      } catch (err) {
        failures.push({ payload: line, message: `line ${i + 1}: ${messageOf(err)}` });
      }
    }
    return { records, texts, failures };
  }
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
    records.push(value);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const element: unknown = value[i];
      if (isObject(element)) records.push(element);
      else failures.push({ payload: JSON.stringify(element), message: `element ${i}: not a JSON object` });
    }
  } else {
    throw new SluiceError('DECODE_FAILED', 'body must be a JSON object or an array of objects');
  }
  return { records, failures };
}
