import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBody, formatOfContentType } from './http-body.ts';

describe('http bodies', () => {
  it('picks NDJSON for the NDJSON and JSON Lines content types only', () => {
    for (const type of ['application/x-ndjson', 'application/ndjson; charset=utf-8', 'application/jsonl']) {
      assert.equal(formatOfContentType(type), 'ndjson', type);
    }
    for (const type of ['application/json', 'text/plain', undefined])
      assert.equal(formatOfContentType(type), 'json');
  });

  it('decodes JSON objects and arrays, failing elements that are not objects', () => {
    assert.deepEqual(decodeBody('{"a":1}', 'json'), { records: [{ a: 1 }], failures: [] });
    const decoded = decodeBody('[{"a":1}, null, [2], {"b":2}]', 'json');
    assert.deepEqual(decoded.records, [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(
      decoded.failures.map((f) => f.payload),
      ['null', '[2]'],
    );
    assert.throws(() => decodeBody('{"a":', 'json'), /not valid JSON/);
    assert.throws(() => decodeBody('"text"', 'json'), /object or an array/);
  });

  it('decodes NDJSON line by line, skipping blank lines', () => {
    const decoded = decodeBody('{"a":1}\r\n\n  \nnope\n{"b":2}', 'ndjson');
    assert.deepEqual(decoded.records, [{ a: 1 }, { b: 2 }]);
    assert.equal(decoded.failures.length, 1);
    assert.equal(decoded.failures[0].payload, 'nope');
    assert.match(decoded.failures[0].message, /^line 4: /);
  });
});

describe('decodeBody input limits', () => {
  const limits = { maxDepth: 3, invalidUtf8: 'dead_letter' as const };

  it('NDJSON: a line too deep, out of range or not UTF-8 is a failure; the others are records', () => {
    const body = Buffer.concat([
      Buffer.from('{"a":1}\n{"a":[[[1]]]}\n{"a":1e400}\n{"a":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}\r\n{"a":2}'),
    ]);
    const { records, failures } = decodeBody(body, 'ndjson', limits);
    assert.deepEqual(records, [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(
      failures.map((f) => f.message.replace(/;.*/, '').replace(/ at character \d+/, '')),
      [
        'line 2: nested deeper than max_depth (3)',
        'line 3: the number at $.a is out of range (beyond ±1.8e308 it would become Infinity)',
        'line 4: invalid UTF-8 at byte 6 of the record (the payload is its bytes in base64)',
      ],
    );
    assert.equal(
      failures[2].payload,
      Buffer.from([...Buffer.from('{"a":"'), 0xc3, 0x28, 0x22, 0x7d]).toString('base64'),
    );
  });

  it('JSON array: each element is held to the limits alone', () => {
    const { records, failures } = decodeBody(
      Buffer.from('[{"a":[[1]]},{"a":[[[1]]]},{"a":-1e999}]'),
      'json',
      limits,
    );
    assert.deepEqual(records, [{ a: [[1]] }]);
    assert.deepEqual(
      failures.map((f) => [f.message, f.payload]),
      [
        ['element 1: nested deeper than max_depth (3)', '{"a":[[[1]]]}'],
        [
          'element 2: the number at $.a is out of range (beyond ±1.8e308 it would become Infinity)',
          '{"a":null}',
        ],
      ],
    );
  });

  it('JSON: a body that is not UTF-8 is refused whole; replace reads U+FFFD', () => {
    const body = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]);
    assert.throws(() => decodeBody(body, 'json', limits), /not valid UTF-8 \(byte 6\)/);
    assert.deepEqual(decodeBody(body, 'json', { ...limits, invalidUtf8: 'replace' }).records, [
      { a: '\uFFFD' },
    ]);
  });
});
