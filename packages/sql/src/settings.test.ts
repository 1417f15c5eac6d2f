import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolvePlan, SluiceError } from '@sluice/core';
import { compileSql } from './index.ts';
import { registry } from './test-support.ts';

const body = `CREATE TABLE t (a BIGINT) WITH ('connector' = 'file', 'path' = './in.jsonl');
CREATE TABLE o (a BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO o SELECT a FROM t;`;

test('SET names the pipeline and sets its checkpoints under Flink keys; the file name is the default name', () => {
  const plain = compileSql(body, '/tmp/orders-per-region.sql', { registry });
  assert.equal(plain.name, 'orders-per-region');
  const plan = compileSql(
    `SET 'pipeline.name' = 'bids';\nSET 'execution.checkpointing.interval' = '30s';\nSET 'state.checkpoints.dir' = './state';\nSET 'state.checkpoints.num-retained' = '5';\n${body}`,
    '/tmp/q.sql',
    { registry },
  );
  assert.equal(plan.name, 'bids');
  assert.deepEqual(plan.settings.checkpoint, { interval: 30_000, dir: './state', keep: 5 });
});

test('an unknown key or a bad value is refused at its line and column', () => {
  const failure = (text: string) => {
    try {
      compileSql(`${text}\n${body}`, 'q.sql', { registry });
    } catch (err) {
      assert.ok(err instanceof SluiceError);
      return err.describe();
    }
    throw new Error('compiled');
  };
  assert.match(
    failure("SET 'pipeline.nam' = 'x';"),
    /^q\.sql:1:1: unknown setting 'pipeline\.nam' — did you mean 'pipeline\.name'\?/,
  );
  assert.equal(
    failure("SET 'execution.checkpointing.interval' = 'soon';"),
    "q.sql:1:42: execution.checkpointing.interval: 'soon' is not a duration; write a number with a unit, e.g. 500ms, 5s, 1m, 1h, 2d (CONFIG_INVALID)",
  );
});

test("SET 'table.exec.state.ttl' bounds the state of the steps that would keep it forever, not windows'", () => {
  const plan = compileSql(
    `SET 'table.exec.state.ttl' = '1 h';
CREATE TABLE t (a BIGINT, b BIGINT, ts BIGINT, WATERMARK FOR ts AS ts) WITH ('connector' = 'file', 'path' = './in.jsonl');
CREATE TABLE totals (a BIGINT, n BIGINT) WITH ('connector' = 'file', 'path' = './totals.jsonl', 'changelog' = 'debezium');
CREATE TABLE windows (a BIGINT, n BIGINT) WITH ('connector' = 'file', 'path' = './windows.jsonl');
CREATE TABLE best (a BIGINT, b BIGINT) WITH ('connector' = 'file', 'path' = './best.jsonl', 'changelog' = 'debezium');
INSERT INTO totals SELECT a, count(*) AS n FROM t GROUP BY a;
INSERT INTO windows SELECT a, count(*) AS n FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY a, window_start, window_end;
INSERT INTO best SELECT a, b FROM (SELECT a, b, ROW_NUMBER() OVER (PARTITION BY a ORDER BY b DESC) AS rn FROM t) WHERE rn = 1;`,
    '/tmp/q.sql',
    { registry },
  );
  const ttl = Object.fromEntries(plan.steps.map((s) => [s.id, (s.config as { ttl?: string }).ttl]));
  assert.equal(ttl['totals-aggregate'], '1h');
  assert.equal(ttl['best-top-n'], '1h');
  assert.equal(ttl['windows-aggregate'], undefined);
  resolvePlan(plan, registry);
  const off = compileSql(`SET 'table.exec.state.ttl' = '0 ms';\n${body}`, '/tmp/q.sql', { registry });
  assert.ok(off.steps.every((s) => (s.config as { ttl?: string }).ttl === undefined));
});
