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
