/**
 * `sluice run` and `sluice validate` on SQL scripts, end to end: a windowed query over a
 * JSON-lines file to a file sink, and errors printed with the script's file, line and column.
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readJsonLines, runCli, tempDir } from './cli-test-support.ts';

const script = `-- Orders per region in one-minute tumbling windows.
CREATE TABLE orders (
  region STRING,
  amount DOUBLE,
  ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'file', 'path' = './orders.jsonl', 'format' = 'json');

CREATE TABLE per_region (region STRING, window_start BIGINT, window_end BIGINT, orders BIGINT, revenue DOUBLE)
WITH ('connector' = 'file', 'path' = './out/per-region.jsonl');

INSERT INTO per_region
SELECT upper_region, window_start, window_end, count(*) AS orders, round(sum(amount), 2) AS revenue
FROM TABLE(TUMBLE(TABLE normalized, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY upper_region, window_start, window_end;
`;
const view = `CREATE VIEW normalized AS SELECT upper(region) AS upper_region, amount, ts FROM orders WHERE amount > 0;
`;

const orders = [
  { region: 'eu', amount: 10, ts: 1_000 },
  { region: 'us', amount: 5.5, ts: 2_000 },
  { region: 'EU', amount: 2.25, ts: 59_000 },
  { region: 'eu', amount: -1, ts: 30_000 },
  { region: 'us', amount: 4, ts: 61_000 },
];

test('sluice run runs a windowed SQL query over a JSON-lines file into a file sink', async (t) => {
  const dir = await tempDir(t, 'sluice-sql-run-');
  await writeFile(join(dir, 'orders.jsonl'), `${orders.map((o) => JSON.stringify(o)).join('\n')}\n`);
  const [head, tail] = script.split('INSERT INTO');
  await writeFile(join(dir, 'query.sql'), `${head}${view}\nINSERT INTO${tail}`);
  const validate = await runCli(['validate', 'query.sql'], dir);
  assert.equal(validate.code, 0, validate.stderr);
  assert.match(validate.stdout, /query\.sql: ok — pipeline 'query': 1 source\(s\), 4 step\(s\), 1 sink\(s\)/);
  const run = await runCli(['run', 'query.sql', '--no-status'], dir);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /pipeline completed/);
  assert.deepEqual(readJsonLines(join(dir, 'out/per-region.jsonl')), [
    { region: 'EU', window_start: 0, window_end: 60_000, orders: 2, revenue: 12.25 },
    { region: 'US', window_start: 0, window_end: 60_000, orders: 1, revenue: 5.5 },
    { region: 'US', window_start: 60_000, window_end: 120_000, orders: 1, revenue: 4 },
  ]);
});

test('sluice validate prints SQL errors with the file, line and column', async (t) => {
  const dir = await tempDir(t, 'sluice-sql-validate-');
  const broken = script
    .replace("'format' = 'json'", "'format' = 'jsonl'")
    .replace('TABLE normalized', 'TABLE orders');
  await writeFile(join(dir, 'query.sql'), broken.replace('count(*) AS orders', 'count(*) AS orders, amount'));
  const failed = await runCli(['validate', 'query.sql'], dir);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /query\.sql:13:8: 'orders' has no column 'upper_region'/);

  await writeFile(join(dir, 'query.sql'), broken.replaceAll('upper_region', 'region'));
  const invalid = await runCli(['validate', 'query.sql'], dir);
  assert.equal(invalid.code, 1);
  assert.match(
    invalid.stderr,
    /query\.sql:7:58: step 'orders', format: must be one of: json, csv, text \(CONFIG_INVALID\)/,
  );
});

test('sluice run prints the plan of an EXPLAIN and runs nothing when the script only explains', async (t) => {
  const dir = await tempDir(t, 'sluice-sql-explain-');
  await writeFile(join(dir, 'orders.jsonl'), `${orders.map((o) => JSON.stringify(o)).join('\n')}\n`);
  const [head, tail] = script.split('INSERT INTO');
  await writeFile(join(dir, 'query.sql'), `${head}${view}\nEXPLAIN INSERT INTO${tail}`);
  const run = await runCli(['run', 'query.sql', '--no-status'], dir);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /== EXPLAIN INSERT INTO per_region \(line 14, column 1\) ==/);
  assert.match(run.stdout, /step per_region-aggregate \(aggregate\) ← normalized-select → append-only/);
  assert.match(run.stdout, /state: per key and window, dropped as each window fires/);
  assert.doesNotMatch(run.stderr, /pipeline started/);
  assert.equal(existsSync(join(dir, 'out/per-region.jsonl')), false, 'an EXPLAIN ran its query');
});
