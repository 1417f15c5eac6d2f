/**
 * RabbitMQ message bodies → Sluice records, and the `_rabbitmq` metadata, for the `rabbitmq` source.
 */

import {
  type DecodeFailure,
  decodedUtf8Problem,
  type InvalidUtf8,
  jsonValueProblem,
  type Row,
} from '@sluice/core';
import type { ConsumeMessage } from 'amqplib';

/** The field that carries a record's RabbitMQ metadata when `metadata` is on. */
export const METADATA_FIELD = '_rabbitmq';

export interface PayloadOptions {
  readonly format: 'json' | 'text' | 'bytes';
  readonly maxDepth: number;
  readonly invalidUtf8: InvalidUtf8;
}

/** A decoded body: the record and, for JSON, the text it was parsed from. */
export type Decoded = { row: Row; text: string | undefined } | { failure: DecodeFailure };

/** Decodes one body; a body that is not a record of `format` gives a failure with the reason. */
export function decodeBody(body: Buffer, options: PayloadOptions): Decoded {
  if (options.format === 'bytes') return { row: { value: body.toString('base64') }, text: undefined };
  const raw = body.toString('utf8');
  const notUtf8 = decodedUtf8Problem(raw, body, 0, body.length, options.invalidUtf8);
  if (notUtf8 !== undefined) return { failure: { payload: body.toString('base64'), message: notUtf8 } };
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

/** A header value as JSON: byte arrays as UTF-8 text, big integers as numbers, dates as ISO text. */
function headerValue(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(headerValue);
  if (typeof value === 'object' && value !== null) {
    const out: { [k: string]: unknown } = {};
    for (const [k, v] of Object.entries(value)) out[k] = headerValue(v);
    return out;
  }
  return value === undefined ? null : value;
}

/** The headers as JSON; most messages have none, which costs nothing here. */
function headersOf(headers: { [k: string]: unknown } | undefined): Row {
  if (headers === undefined) return {};
  for (const _ in headers) return headerValue(headers) as Row;
  return {};
}

/**
 * What `_rabbitmq` holds: where the message was published (`exchange`, `routing_key`), whether
 * the broker delivered it before (`redelivered`), its headers, and its `message_id` and
 * `timestamp` (epoch ms) when the publisher set them (else null).
 */
export function metadataOf(msg: ConsumeMessage): Row {
  const { fields, properties } = msg;
  const timestamp = properties.timestamp;
  return {
    exchange: fields.exchange,
    routing_key: fields.routingKey,
    redelivered: fields.redelivered,
    headers: headersOf(properties.headers),
    message_id: properties.messageId ?? null,
    // AMQP timestamps are whole seconds.
    timestamp: typeof timestamp === 'number' ? timestamp * 1000 : null,
  };
}
