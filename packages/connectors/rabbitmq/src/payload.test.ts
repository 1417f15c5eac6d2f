/**
 * Message bodies → records and the `_rabbitmq` metadata, without a broker: each format, the
 * reasons a body is refused, and header values made JSON (byte arrays, big integers, dates,
 * nested tables).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumeMessage } from 'amqplib';
import { decodeBody, metadataOf, type PayloadOptions } from './payload.ts';

const json: PayloadOptions = { format: 'json', maxDepth: 8, invalidUtf8: 'dead_letter' };
const notUtf8 = Buffer.from([0x7b, 0xff, 0x7d]);

test('json: an object is the record with its text; anything else is refused with the reason', () => {
  assert.deepEqual(decodeBody(Buffer.from('{"id":1}'), json), { row: { id: 1 }, text: '{"id":1}' });
  const reasons = ['[1]', 'null', '42', '{"id":', '{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{}}}}}}}}}'].map(
    (b) => {
      const d = decodeBody(Buffer.from(b), json);
      return 'failure' in d ? d.failure.message : 'decoded';
    },
  );
  assert.match(reasons[0] ?? '', /is JSON an array, not an object/);
  assert.match(reasons[1] ?? '', /is JSON null, not an object/);
  assert.match(reasons[2] ?? '', /is JSON number, not an object/);
  assert.match(reasons[3] ?? '', /is not valid JSON/);
  assert.notEqual(reasons[4], 'decoded', 'deeper than max_depth');
  const bad = decodeBody(notUtf8, json);
  assert.ok(
    'failure' in bad && bad.failure.payload === notUtf8.toString('base64'),
    'not UTF-8: the bytes in base64',
  );
});

test('text and bytes: the body as `value`', () => {
  assert.deepEqual(decodeBody(Buffer.from('héllo'), { ...json, format: 'text' }), {
    row: { value: 'héllo' },
    text: undefined,
  });
  assert.deepEqual(decodeBody(notUtf8, { ...json, format: 'bytes' }), {
    row: { value: notUtf8.toString('base64') },
    text: undefined,
  });
  const replaced = decodeBody(notUtf8, { ...json, format: 'text', invalidUtf8: 'replace' });
  assert.deepEqual(replaced, { row: { value: '{\uFFFD}' }, text: undefined });
});

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
