/**
 * The metadata a `rabbitmq` source record carries (bodies are decoded by the core's `decodeMessageBody`).
 */

import type { Row } from '@sluice/core';
import type { ConsumeMessage } from 'amqplib';

/** The field that carries a record's RabbitMQ metadata when `metadata` is on. */
export const METADATA_FIELD = '_rabbitmq';

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
