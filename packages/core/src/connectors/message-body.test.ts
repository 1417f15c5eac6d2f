/**
 * Message bodies as records, as the MQTT, NATS and RabbitMQ sources decode them: each format, and
 * the reasons a body is refused.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeMessageBody, type MessageBodyOptions } from './message-body.ts';

const json: MessageBodyOptions = { format: 'json', maxDepth: 3, invalidUtf8: 'dead_letter' };

describe('message bodies', () => {
  test('json: an object is the record, with its text; anything else is a failure with the reason', () => {
    assert.deepEqual(decodeMessageBody(Buffer.from('{"a":1}'), json), { row: { a: 1 }, text: '{"a":1}' });
    const cases: [string, RegExp][] = [
      ['{"a":', /^is not valid JSON: /],
      ['[1,2]', /^is JSON an array, not an object$/],
      ['null', /^is JSON null, not an object$/],
      ['42', /^is JSON number, not an object$/],
      ['{"a":{"b":{"c":{}}}}', /deep/],
      ['{"a":1e400}', /range|Infinity|double/],
    ];
    for (const [text, reason] of cases) {
      const out = decodeMessageBody(Buffer.from(text), json);
      assert.ok('failure' in out, text);
      assert.equal(out.failure.payload, text);
      assert.match(out.failure.message, reason, text);
    }
  });

  test('bytes that are not UTF-8: a failure with the bytes in base64, or replaced by choice', () => {
    const bad = Buffer.from([0x7b, 0xff, 0x7d]);
    const out = decodeMessageBody(bad, json);
    assert.ok('failure' in out);
    assert.equal(out.failure.payload, bad.toString('base64'));
    const text = decodeMessageBody(bad, { ...json, format: 'text', invalidUtf8: 'replace' });
    assert.deepEqual(text, { row: { value: '{\uFFFD}' }, text: undefined });
  });

  test('text and bytes formats wrap the payload as { value }', () => {
    assert.deepEqual(decodeMessageBody(Buffer.from('21.5'), { ...json, format: 'text' }), {
      row: { value: '21.5' },
      text: undefined,
    });
    assert.deepEqual(decodeMessageBody(Buffer.from([0, 1, 2]), { ...json, format: 'bytes' }), {
      row: { value: 'AAEC' },
      text: undefined,
    });
  });

  test('a Uint8Array that is a view into a larger buffer is decoded by its own bytes', () => {
    const whole = Buffer.from('xx{"a":2}yy');
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 2, 7);
    assert.deepEqual(decodeMessageBody(view, json), { row: { a: 2 }, text: '{"a":2}' });
  });
});
