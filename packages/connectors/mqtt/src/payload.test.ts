import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodePayload, type PayloadOptions, userProperties } from './payload.ts';

const json: PayloadOptions = { format: 'json', maxDepth: 3, invalidUtf8: 'dead_letter' };

describe('mqtt payloads', () => {
  test('json: an object is the record, with its text; anything else is a failure with the reason', () => {
    assert.deepEqual(decodePayload(Buffer.from('{"a":1}'), json), { row: { a: 1 }, text: '{"a":1}' });
    const cases: [string, RegExp][] = [
      ['{"a":', /^is not valid JSON: /],
      ['[1,2]', /^is JSON an array, not an object$/],
      ['null', /^is JSON null, not an object$/],
      ['42', /^is JSON number, not an object$/],
      ['{"a":{"b":{"c":{}}}}', /deep/],
      ['{"a":1e400}', /range|Infinity|double/],
    ];
    for (const [text, reason] of cases) {
      const out = decodePayload(Buffer.from(text), json);
      assert.ok('failure' in out, text);
      assert.equal(out.failure.payload, text);
      assert.match(out.failure.message, reason, text);
    }
  });

  test('bytes that are not UTF-8: a failure with the bytes in base64, or replaced by choice', () => {
    const bad = Buffer.from([0x7b, 0xff, 0x7d]);
    const out = decodePayload(bad, json);
    assert.ok('failure' in out);
    assert.equal(out.failure.payload, bad.toString('base64'));
    const text = decodePayload(bad, { ...json, format: 'text', invalidUtf8: 'replace' });
    assert.deepEqual(text, { row: { value: '{\uFFFD}' }, text: undefined });
  });

  test('text and bytes formats wrap the payload as { value }', () => {
    assert.deepEqual(decodePayload(Buffer.from('21.5'), { ...json, format: 'text' }), {
      row: { value: '21.5' },
      text: undefined,
    });
    assert.deepEqual(decodePayload(Buffer.from([0, 1, 2]), { ...json, format: 'bytes' }), {
      row: { value: 'AAEC' },
      text: undefined,
    });
  });

  test('user properties: the last value wins when a name repeats', () => {
    assert.deepEqual(userProperties(undefined), {});
    assert.deepEqual(userProperties({ site: 'n', unit: ['C', 'F'] }), { site: 'n', unit: 'F' });
  });
});
