import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import { compileExpression } from './index.ts';

const run = (text: string, record: { [k: string]: unknown } = {}) => compileExpression(text).evaluate(record);

describe('Flink string and JSON functions', () => {
  it('initcap, repeat and reverse', () => {
    assert.equal(run("INITCAP('hello wORLD-foo 2nd éte')"), 'Hello World-Foo 2nd Éte');
    assert.equal(run("repeat('ab', 3)"), 'ababab');
    assert.equal(run("repeat('ab', -1)"), '');
    assert.equal(run("reverse('añb😀')"), '😀bña');
    assert.equal(run('reverse(s)', { s: null }), null);
  });

  it('split_index picks a field of a split, counting empty fields, NULL past the last', () => {
    const url = 'https://www.nexmark.com/ab/cd/item.htm?query=1';
    const parts = url.split('/');
    for (let i = 0; i < parts.length; i++)
      assert.equal(run(`SPLIT_INDEX(url, '/', ${i})`, { url }), parts[i]);
    assert.equal(run(`split_index(url, '/', ${parts.length})`, { url }), null);
    assert.equal(run("split_index(url, '/', -1)", { url }), null);
    assert.equal(run("split_index('a::b::::c', '::', 2)"), '');
    assert.equal(run("split_index('a::b::::c', '::', 3)"), 'c');
    assert.equal(run("split_index('', ',', 0)"), null);
    assert.equal(run("split_index('a b\tc', '', 2)"), 'c');
    assert.equal(run("split_index(s, ',', 0)", { s: null }), null);
  });

  it('hour, minute and second of a timestamp, in UTC, before 1970 too', () => {
    for (const ms of [0, 1_767_225_600_004, 1_709_251_199_999, -1, -86_400_001, 4_102_444_799_123]) {
      const d = new Date(ms);
      assert.equal(run('HOUR(ts)', { ts: ms }), d.getUTCHours());
      assert.equal(run('minute(ts)', { ts: ms }), d.getUTCMinutes());
      assert.equal(run('second(ts)', { ts: ms }), d.getUTCSeconds());
    }
    assert.equal(run("hour('2024-03-01T18:30:00Z')"), 18);
    assert.equal(run('hour(ts)', { ts: null }), null);
  });

  it('from_unixtime formats epoch seconds in UTC', () => {
    for (const seconds of [0, 1_700_000_000, -86_401, 4_102_444_799]) {
      const iso = new Date(seconds * 1000).toISOString();
      assert.equal(run('FROM_UNIXTIME(n)', { n: seconds }), `${iso.slice(0, 10)} ${iso.slice(11, 19)}`);
    }
    assert.equal(run("from_unixtime(0, 'yyyy/MM/dd')"), '1970/01/01');
  });

  it('json_value finds the scalar placed at each path of seeded documents', () => {
    let state = 7;
    const next = (n: number) => {
      state = (state * 48_271) % 2_147_483_647;
      return state % n;
    };
    for (let i = 0; i < 300; i++) {
      // Build a document along a random path, and the path's text, side by side.
      const leaf = [`s${i}`, i * 1.5, i % 2 === 0][next(3)];
      let doc: unknown = leaf;
      let path = '';
      for (let depth = next(4) + 1; depth > 0; depth--) {
        if (next(2) === 0) {
          const at = next(3);
          const arr: unknown[] = [1, 'x', null];
          arr[at] = doc;
          doc = arr;
          path = `[${at}]${path}`;
        } else {
          const key = next(2) === 0 ? `k${next(5)}` : `a b${next(5)}`;
          doc = { other: 1, [key]: doc };
          path = `${key.includes(' ') ? `['${key}']` : `.${key}`}${path}`;
        }
      }
      assert.equal(
        run('json_value(j, p)', { j: JSON.stringify(doc), p: `$${path}` }),
        String(leaf),
        `$${path}`,
      );
    }
    assert.equal(run(`json_value('{"a": {"b": 1}}', '$.a')`), null, 'an object is not a scalar');
    assert.equal(run(`json_value('{"a": null}', '$.a')`), null);
    assert.equal(run(`json_value('not json', '$.a')`), null);
    assert.equal(run(`json_value('{"a": [1, 2]}', '$.a[5]')`), null);
  });

  it('a constant path that is no JSON path is a type error', () => {
    assert.throws(
      () => compileExpression("json_value(j, 'a.b')"),
      (err: unknown) =>
        err instanceof SluiceError && err.code === 'PLAN_TYPE_ERROR' && /starts with \$/.test(err.message),
    );
  });
});
