import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '@sluice/core';
import { compileSql } from './index.ts';
import { registry } from './test-support.ts';

const tables = `CREATE TABLE t (a BIGINT, b DOUBLE) WITH ('connector' = 'file', 'path' = './in.jsonl');
CREATE TABLE o (x BIGINT, y DOUBLE) WITH ('connector' = 'file', 'path' = './out.jsonl');
`;

test('an unnamed computed column of an INSERT takes the target column at its position, as in Flink', () => {
  const plan = compileSql(`${tables}INSERT INTO o SELECT a, b * 2 FROM t;`, 'q.sql', { registry });
  assert.deepEqual(plan.steps[0].config, { select: [], fields: { x: 'a', y: 'b * 2' } });
  const grouped = compileSql(`${tables}INSERT INTO o SELECT a, sum(b) FROM t GROUP BY a;`, 'q.sql', {
    registry,
  });
  assert.deepEqual(grouped.steps[0].config, { key: ['a'], fields: { y: 'sum(b)' } });
  assert.equal(grouped.steps.length, 2, 'a map renames the key a to x');
});

test('a view has no target columns, so an unnamed computed column needs AS', () => {
  assert.throws(
    () =>
      compileSql(`${tables}CREATE VIEW v AS SELECT a + 1 FROM t;\nINSERT INTO o SELECT * FROM v;`, 'q.sql', {
        registry,
      }),
    (err: unknown) =>
      err instanceof SluiceError &&
      err.describe() === 'q.sql:3:25: name this column with AS, e.g. price * 2 AS doubled (CONFIG_INVALID)',
  );
});

test('a table both read and written is a source and a sink with ids of their own', () => {
  const plan = compileSql(
    "CREATE TABLE t (a BIGINT) WITH ('connector' = 'file', 'path' = './t.jsonl');\nINSERT INTO t SELECT a FROM t WHERE a > 1;",
    'q.sql',
    { registry },
  );
  assert.deepEqual([plan.sources[0].id, plan.sinks[0].id, plan.sinks[0].input], ['t', 't-sink', 't-select']);
});

const timed = `CREATE TABLE l (k BIGINT, v STRING, t BIGINT, WATERMARK FOR t AS t - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './l.jsonl');
CREATE TABLE r (k BIGINT, w STRING, s BIGINT, WATERMARK FOR s AS s - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './r.jsonl');
CREATE TABLE out_t (v STRING, w STRING) WITH ('connector' = 'file', 'path' = './out.jsonl');
`;

function joinConfig(on: string): unknown {
  const plan = compileSql(`${timed}INSERT INTO out_t SELECT v, w FROM l JOIN r ON ${on};`, 'q.sql', {
    registry,
  });
  return plan.steps[0].config;
}

test("an interval join's BETWEEN gives `between` for the right input's time, whichever side it is written on", () => {
  // The right record's time relative to the left's: s ∈ [t - 1s, t + 5s] either way round.
  const expected = {
    on: 'l.k = r.k',
    between: ['-1s', '5s'],
    fields: { v: 'l.v', w: 'r.w' },
  };
  assert.deepEqual(
    joinConfig("r.s BETWEEN l.t - INTERVAL '1' SECOND AND l.t + INTERVAL '5' SECOND AND l.k = r.k"),
    expected,
  );
  assert.deepEqual(
    joinConfig("l.k = r.k AND l.t BETWEEN r.s - INTERVAL '5' SECOND AND r.s + INTERVAL '1' SECOND"),
    expected,
  );
});

test('conditions of ON other than the key and the interval stay in `on`, an OR in parentheses', () => {
  assert.deepEqual(joinConfig("l.k = r.k AND (l.v = 'a' OR r.w = 'b')"), {
    on: "l.k = r.k AND (l.v = 'a' OR r.w = 'b')",
    fields: { v: 'l.v', w: 'r.w' },
  });
});

test('an OVER aggregate ordered by PROCTIME(), or by a PROCTIME() column, is a processing-time over_aggregate', () => {
  const plan = compileSql(
    `${tables}CREATE TABLE p (x BIGINT, y DOUBLE) WITH ('connector' = 'file', 'path' = './p.jsonl');
CREATE VIEW timed AS SELECT *, PROCTIME() AS pt FROM t;
INSERT INTO o SELECT a, SUM(b) OVER (PARTITION BY a ORDER BY pt ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) FROM timed;
INSERT INTO p SELECT a, COUNT(*) OVER (ORDER BY PROCTIME() RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND CURRENT ROW) FROM t;`,
    'q.sql',
    { registry },
  );
  const overs = plan.steps.filter((s) => s.type === 'over_aggregate').map((s) => s.config);
  assert.deepEqual(overs, [
    { key: ['a'], time: 'processing', rows: 3, fields: { y: 'SUM(b)' } },
    { time: 'processing', range: '1m', fields: { y: 'COUNT(*)' } },
  ]);
});
