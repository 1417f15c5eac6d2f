/** The harness's comparison: exact order by default, multisets only where a case says so. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertOutput, type GoldenCase, type RunOutput, sortedJson } from './golden-test-case.ts';

const base: GoldenCase = {
  name: 'test/case',
  dir: '.',
  shows: 'a case for the harness’s own tests',
  maxOutOfOrderness: '0ms',
  steps: [],
  output: 'x',
  outputs: ['x.timeouts'],
  multiset: new Set(),
  restoreAfter: 1,
  skip: new Map(),
  input: [],
  clock: new Map(),
};

const A = '{"n":1}';
const B = '{"n":2}';
const T = '{"t":1}';

const output = (out: string[], side: string[] = []): RunOutput =>
  new Map([
    ['out', out],
    ['late', []],
    ['dead', []],
    ['x.timeouts', side],
  ]);

test('a reordered or changed line fails; the same lines pass', () => {
  const expected = output([A, B], [T]);
  assertOutput(base, 'batch 1', output([A, B], [T]), expected);
  assert.throws(() => assertOutput(base, 'batch 7', output([B, A], [T]), expected), /out\.jsonl differs/);
  assert.throws(
    () => assertOutput(base, 'batch 7', output([A, B], []), expected),
    /x\.timeouts\.jsonl differs/,
  );
  assert.throws(
    () => assertOutput(base, 'batch 7', output([A, '{"n":3}'], [T]), expected),
    /out\.jsonl differs/,
  );
});

test('a part listed under multiset ignores order, but not a missing or extra line', () => {
  const c = { ...base, multiset: new Set(['out']) };
  const expected = output([A, B, B]);
  assertOutput(c, 'batch 1024', output([B, A, B]), expected);
  assert.throws(() => assertOutput(c, 'batch 1024', output([A, B]), expected), /compared as a multiset/);
});

test('field order and spacing within a line do not matter', () => {
  const expected = output(['{"kind":"+I","time":1,"record":{"a":1,"b":2}}']);
  assertOutput(
    base,
    'batch 1',
    output(['{ "record": {"b": 2, "a": 1}, "time": 1, "kind": "+I" }']),
    expected,
  );
});

test('sortedJson sorts keys at every depth, so field order is not part of a result', () => {
  assert.equal(
    sortedJson({ b: 1, a: { d: [{ f: 1, e: 2 }], c: null } }),
    '{"a":{"c":null,"d":[{"e":2,"f":1}]},"b":1}',
  );
});
