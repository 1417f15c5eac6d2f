import assert from 'node:assert/strict';
import test from 'node:test';
import { compareOutputs, finalRows } from './nexmark-flink-compare.ts';

test("Flink's SQL timestamps and Sluice's epoch milliseconds are the same value", () => {
  const flink = ['{"auction":1,"dateTime":"2026-01-01 00:00:01.5","extra":null}\n'];
  const sluice = ['{"dateTime":1767225601500,"auction":1}\n'];
  assert.deepEqual(compareOutputs(sluice, flink), { verdict: 'equal', rows: 1 });
  assert.deepEqual(finalRows(flink), ['{"auction":1,"dateTime":1767225601500}']);
});

test("a Debezium changelog folds into the table it leaves, whether updates are Sluice's u or Flink's d + c", () => {
  const sluice = [
    [
      '{"before":null,"after":{"id":10,"final":5},"op":"c"}',
      '{"before":{"id":10,"final":5},"after":{"id":10,"final":7},"op":"u"}',
      '{"before":null,"after":{"id":11,"final":1},"op":"c"}',
      '{"before":{"id":11,"final":1},"after":null,"op":"d"}',
    ].join('\n'),
  ];
  const flink = [
    '{"before":null,"after":{"id":10,"final":5},"op":"c"}\n{"before":{"id":10,"final":5},"after":null,"op":"d"}\n',
    '{"before":null,"after":{"id":10,"final":7},"op":"c"}\n',
  ];
  assert.deepEqual(finalRows(sluice), ['{"final":7,"id":10}']);
  assert.deepEqual(compareOutputs(sluice, flink), { verdict: 'equal', rows: 1 });
});

test('numbers that differ only by the engines’ types (AVG truncation, DECIMAL against double) are equal only tolerantly', () => {
  const sluice = ['{"id":10,"final":1234.75}\n{"price":226.99999999999997}\n'];
  const flink = ['{"id":10,"final":1234}\n{"price":227.000}\n'];
  assert.deepEqual(compareOutputs(sluice, flink), { verdict: 'tolerant', rows: 2 });
});

test('a row missing on one side makes the outputs different, and names the row', () => {
  const verdict = compareOutputs(['{"a":1}\n{"a":2}\n{"a":2}\n'], ['{"a":1}\n{"a":2}\n']);
  assert.deepEqual(verdict, { verdict: 'different', rows: [3, 2], onlyLeft: ['{"a":2}'], onlyRight: [] });
});

test('a change that takes out a row the table does not hold is an error, with its place', () => {
  assert.throws(
    () => finalRows(['{"before":{"a":1},"after":null,"op":"d"}\n']),
    /file 1, line 1: a change takes out \{"a":1\}/,
  );
});
