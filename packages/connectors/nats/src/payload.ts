/**
 * NATS message payloads → Sluice records, for the `nats` source.
 */

import type { MsgHdrs } from '@nats-io/transport-node';
import {
  type DecodeFailure,
  decodedUtf8Problem,
  type InvalidUtf8,
  jsonValueProblem,
  type Row,
} from '@sluice/core';

/** The field that carries a record's NATS metadata when `metadata` is on. */
export const METADATA_FIELD = '_nats';

export interface PayloadOptions {
  readonly format: 'json' | 'text' | 'bytes';
  readonly maxDepth: number;
  readonly invalidUtf8: InvalidUtf8;
}

/** A decoded payload: the record and, for JSON, the text it was parsed from. */
export type Decoded = { row: Row; text: string | undefined } | { failure: DecodeFailure };

/** Decodes one payload; a payload that is not a record of `format` gives a failure with the reason. */
export function decodePayload(data: Uint8Array, options: PayloadOptions): Decoded {
  const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (options.format === 'bytes') return { row: { value: payload.toString('base64') }, text: undefined };
  const raw = payload.toString('utf8');
  const notUtf8 = decodedUtf8Problem(raw, payload, 0, payload.length, options.invalidUtf8);
  if (notUtf8 !== undefined) return { failure: { payload: payload.toString('base64'), message: notUtf8 } };
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

/** A message's headers by name, the last value winning when a name repeats. */
export function headersOf(headers: MsgHdrs | undefined): { [name: string]: string } {
  const out: { [name: string]: string } = {};
  if (headers === undefined) return out;
  for (const name of headers.keys()) out[name] = headers.last(name);
  return out;
}
