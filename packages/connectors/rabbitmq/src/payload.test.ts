/**
 * The `_rabbitmq` metadata, without a broker: header values made JSON (byte arrays, big integers,
 * dates, nested tables). Bodies are decoded by the core (`decodeMessageBody`, tested there).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumeMessage } from 'amqplib';
import { metadataOf } from './payload.ts';

test('metadata: exchange, routing key, redelivered, headers as JSON, message id and timestamp in ms', () => {
  const msg = {
    content: Buffer.from('{}'),
    fields: {
      exchange: 'orders',
      routingKey: 'order.eu',
      redelivered: true,
      deliveryTag: 7,
      consumerTag: 'c',
    },
    properties: {
      headers: {
        tenant: Buffer.from('acme'),
        count: 12n,
        at: new Date(Date.UTC(2026, 0, 1)),
        nested: { list: [Buffer.from('x'), 1] },
      },
      messageId: 'm-1',
      timestamp: 1_767_225_600,
    },
  } as unknown as ConsumeMessage;
  assert.deepEqual(metadataOf(msg), {
    exchange: 'orders',
    routing_key: 'order.eu',
    redelivered: true,
    headers: { tenant: 'acme', count: 12, at: '2026-01-01T00:00:00.000Z', nested: { list: ['x', 1] } },
    message_id: 'm-1',
    timestamp: 1_767_225_600_000,
  });
  const bare = { ...msg, properties: { headers: {} } } as unknown as ConsumeMessage;
  assert.deepEqual(
    [metadataOf(bare).headers, metadataOf(bare).message_id, metadataOf(bare).timestamp],
    [{}, null, null],
  );
});
