import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { safeJsonText } from './safe-json.ts';

describe('safeJsonText', () => {
  it('writes what JSON.stringify writes for plain values', () => {
    const value = { a: [1, 'x', null, true, { b: -2.5 }], c: {}, d: [], e: 'é"\n' };
    assert.deepEqual(safeJsonText(value, 1000), { text: JSON.stringify(value), truncated: false });
  });

  it('writes a value nested 100,000 deep, which JSON.stringify cannot', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    assert.throws(() => JSON.stringify(deep), RangeError);
    const { text, truncated } = safeJsonText(deep, 10_000_000);
    assert.equal(truncated, false);
    assert.equal(text, `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`);
  });

  it('cuts at maxChars and says so', () => {
    const { text, truncated } = safeJsonText({ s: 'x'.repeat(100) }, 20);
    assert.equal(text.length, 20);
    assert.equal(truncated, true);
  });

  it('writes bigints as strings, cycles as a marker, and drops functions', () => {
    const cyclic: { [k: string]: unknown } = { n: 10n, f: () => 1, list: [undefined, Symbol('s')] };
    cyclic.self = cyclic;
    assert.equal(safeJsonText(cyclic, 1000).text, '{"n":"10","list":[null,null],"self":"[circular]"}');
  });
});
