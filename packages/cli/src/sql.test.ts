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

test('sluice sql --explain prints the plan of the job its INSERTs make, all of them as one job, and runs nothing', async (t) => {
  const dir = await tempDir(t, 'sluice-sql-explain-option-');
  await writeFile(join(dir, 'orders.jsonl'), `${orders.map((o) => JSON.stringify(o)).join('\n')}\n`);
  const [head, tail] = script.split('INSERT INTO');
  // A second INSERT, after a view it reads, in the same job as the first.
  const second = `CREATE TABLE big (region STRING, amount DOUBLE) WITH ('connector' = 'file', 'path' = './out/big.jsonl');
CREATE VIEW large AS SELECT upper_region AS region, amount FROM normalized WHERE amount > 5;
INSERT INTO big SELECT region, amount FROM large;
`;
  await writeFile(join(dir, 'query.sql'), `${head}${view}\nINSERT INTO${tail}${second}`);
  const run = await runCli(['sql', '--explain', 'query.sql'], dir);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^== EXPLAIN INSERT INTO per_region, big \(line 14, column 1\) ==$/m);
  assert.match(run.stdout, /step per_region-aggregate \(aggregate\) ← normalized-select → append-only/);
  assert.match(run.stdout, /sink big \(file\) ← large-select: takes the append-only stream/);
  // The view both INSERTs read is planned once: one source.
  assert.equal(run.stdout.match(/^source /gm)?.length, 1, run.stdout);
  assert.equal(existsSync(join(dir, 'out')), false, 'sluice sql --explain ran the script');

  await writeFile(join(dir, 'broken.sql'), `${head}INSERT INTO per_region SELECT nope FROM orders;\n`);
  const failed = await runCli(['sql', '--explain', 'broken.sql'], dir);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /broken\.sql:\d+:\d+: .*'nope'/);

  await writeFile(join(dir, 'tables.sql'), head);
  const nothing = await runCli(['sql', '--explain', 'tables.sql'], dir);
  assert.equal(nothing.code, 1);
  assert.match(nothing.stderr, /nothing to explain: the script has no INSERT INTO and no EXPLAIN/);
});

test('sluice run loads @sluice/ml for a script with CREATE MODEL: ML_PREDICT learns as the YAML learn_predict step does', async (t) => {
  const dir = await tempDir(t, 'sluice-sql-model-');
  // Readings whose class follows a known two-level tree over a and b.
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const readings = Array.from({ length: 1500 }, (_, id) => {
    const a = random();
    const b = random();
    return { id, a, b, cls: a < 0.5 ? 'low' : b < 0.7 ? 'mid' : 'high', ts: id * 100 };
  });
  await writeFile(join(dir, 'readings.jsonl'), `${readings.map((r) => JSON.stringify(r)).join('\n')}\n`);
  await writeFile(
    join(dir, 'learn.sql'),
    `CREATE TABLE readings (id BIGINT, a DOUBLE, b DOUBLE, cls STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './readings.jsonl', 'format' = 'json');
CREATE TABLE predictions (id BIGINT, cls STRING, prediction STRING, score DOUBLE)
WITH ('connector' = 'file', 'path' = './out/sql.jsonl');
CREATE MODEL classes INPUT (a DOUBLE, b DOUBLE)
WITH ('type' = 'hoeffding_tree', 'label' = 'cls', 'grace_period' = '100');
INSERT INTO predictions
SELECT id, cls, prediction, score FROM ML_PREDICT(TABLE readings, MODEL classes, DESCRIPTOR(a, b));
`,
  );
  await writeFile(
    join(dir, 'learn.yaml'),
    `name: learn
sources:
  readings: { type: file, path: ./readings.jsonl, format: json }
steps:
  - id: predictions-predict
    type: learn_predict
    model: { type: hoeffding_tree, grace_period: 100 }
    features: [{ numeric: a }, { numeric: b }]
    label: cls
  - id: predictions-select
    type: map
    select: [id, cls, prediction, score]
sinks:
  predictions: { type: file, path: ./out/yaml.jsonl }
`,
  );
  const sql = await runCli(['run', 'learn.sql', '--no-status'], dir);
  assert.equal(sql.code, 0, sql.stderr);
  const yaml = await runCli(['run', 'learn.yaml', '--no-status'], dir);
  assert.equal(yaml.code, 0, yaml.stderr);
  const fromSql = readJsonLines<{ cls: string; prediction: string | null }>(join(dir, 'out/sql.jsonl'));
  assert.equal(fromSql.length, readings.length);
  assert.deepEqual(fromSql, readJsonLines(join(dir, 'out/yaml.jsonl')));
  // The tree has learned the concept: most of the second half is predicted right.
  const rest = fromSql.slice(750);
  const right = rest.filter((r) => r.prediction === r.cls).length / rest.length;
  assert.ok(right >= 0.9, `accuracy ${right}`);
});
