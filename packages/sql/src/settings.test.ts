import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '@sluice/core';
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
