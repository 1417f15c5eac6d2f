/** The harness's comparison: exact order by default, multisets only where a case says so. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertOutput, type GoldenCase, type RunOutput, sortedJson } from './golden-case.ts';

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

const output = (out: string[], side: string[] = []): RunOutput =>
  new Map([
    ['out', out],
    ['late', []],
    ['dead', []],
    ['x.timeouts', side],
  ]);

test('a reordered or changed line fails; the same lines pass', () => {
  const expected = output(['a', 'b'], ['t']);
  assertOutput(base, 'batch 1', output(['a', 'b'], ['t']), expected);
  assert.throws(
    () => assertOutput(base, 'batch 7', output(['b', 'a'], ['t']), expected),
    /out\.jsonl differs/,
  );
  assert.throws(
    () => assertOutput(base, 'batch 7', output(['a', 'b'], []), expected),
    /x\.timeouts\.jsonl differs/,
  );
});

test('a part listed under multiset ignores order, but not a missing or extra line', () => {
  const c = { ...base, multiset: new Set(['out']) };
  const expected = output(['a', 'b', 'b']);
  assertOutput(c, 'batch 1024', output(['b', 'a', 'b']), expected);
  assert.throws(() => assertOutput(c, 'batch 1024', output(['a', 'b']), expected), /compared as a multiset/);
});

test('sortedJson sorts keys at every depth, so field order is not part of a result', () => {
  assert.equal(
    sortedJson({ b: 1, a: { d: [{ f: 1, e: 2 }], c: null } }),
    '{"a":{"c":null,"d":[{"e":2,"f":1}]},"b":1}',
  );
});
