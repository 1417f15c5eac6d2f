/**
 * A broker message's body as a record, for the message-queue sources (MQTT, NATS, RabbitMQ):
 * one JSON object, a text, or bytes, with the same guards the file and HTTP sources apply (valid
 * UTF-8 unless asked to replace, nesting depth, numbers JSON can hold).
 */

import type { DecodeFailure } from '../connector.ts';
import type { Row } from '../record.ts';
import { decodedUtf8Problem, type InvalidUtf8, jsonValueProblem } from './input-guards.ts';

/** How a source decodes its message bodies (its `format`, `max_depth` and `invalid_utf8` options). */
export interface MessageBodyOptions {
  /** `json`: one JSON object a message; `text`: `{ value: <the text> }`; `bytes`: `{ value: <base64> }`. */
  readonly format: 'json' | 'text' | 'bytes';
  readonly maxDepth: number;
  readonly invalidUtf8: InvalidUtf8;
}

/**
 * A decoded body: the record and, for JSON, the text it was parsed from (which a sink writing
 * JSON may write as it is); or why it is not a record, with the body as the dead letter's payload
 * (its text, or base64 when it is not text).
 */
export type DecodedBody = { row: Row; text: string | undefined } | { failure: DecodeFailure };

/** Decodes one message body; a body that is not a record of `options.format` gives a failure with the reason. */
export function decodeMessageBody(body: Uint8Array | string, options: MessageBodyOptions): DecodedBody {
  const bytes =
    typeof body === 'string'
      ? Buffer.from(body)
      : Buffer.isBuffer(body)
        ? body
        : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (options.format === 'bytes') return { row: { value: bytes.toString('base64') }, text: undefined };
  const raw = bytes.toString('utf8');
  const notUtf8 = decodedUtf8Problem(raw, bytes, 0, bytes.length, options.invalidUtf8);
  if (notUtf8 !== undefined) return { failure: { payload: bytes.toString('base64'), message: notUtf8 } };
  if (options.format === 'text') return { row: { value: raw }, text: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return { failure: { payload: raw, message: `is not valid JSON: ${(err as Error).message}` } };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const what = Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed;
    return { failure: { payload: raw, message: `is JSON ${what}, not an object` } };
  }
  const problem = jsonValueProblem(raw, parsed, options.maxDepth);
  if (problem !== undefined) return { failure: { payload: raw, message: problem } };
  return { row: parsed as Row, text: raw };
}
