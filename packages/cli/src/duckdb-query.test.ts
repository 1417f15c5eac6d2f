/**
 * `sluice query` end to end: while `sluice run` writes a DuckDB file (which DuckDB lets one
 * process hold), the query is answered by the running pipeline's sink; once the run has ended,
 * by the file opened read-only.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { Cli, runCli, tempDir, waitUntil } from './cli-test-support.ts';

const pipeline = (count: string) => `
name: duckdb-query
settings:
  checkpoint: { interval: 200ms, dir: ./.sluice }
sources:
  orders: { type: generate, template: orders, seed: 3, rate: 200${count} }
steps:
  - id: per_region
    type: aggregate
    input: orders
    key: [region]
    fields: { orders: count(*) }
sinks:
  store:
    type: duckdb
    input: per_region
    path: ./data/orders.duckdb
    table: per_region
    mode: upsert
    key: [region]
    create_table: true
    serve_queries: true
    columns: { region: VARCHAR, orders: BIGINT }
`;

/** The total of `orders` over the regions, as `sluice query --json` prints it. */
function total(stdout: string): number {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .reduce((sum, line) => sum + Number((JSON.parse(line) as { orders: string | number }).orders), 0);
}

test('sluice query is answered by the running pipeline, then by the file once it stopped', async (t) => {
  const dir = await tempDir(t, 'sluice-duckdb-query-');
  await writeFile(`${dir}/pipeline.yaml`, pipeline(''));
  const run = new Cli(['run', 'pipeline.yaml', '--log-format', 'json', '--no-status'], {
    cwd: dir,
    limitMs: 60_000,
  });
  t.after(() => run.kill('SIGKILL'));

  // While it runs: the served answer grows as checkpoints publish the counts.
  let first = 0;
  await waitUntil(
    async () => {
      const r = await runCli(
        ['query', 'pipeline.yaml', 'SELECT region, orders FROM per_region', '--json'],
        dir,
      );
      if (r.code !== 0) return false;
      first = total(r.stdout);
      return first > 0;
    },
    30_000,
    'a served answer with rows',
    run,
  );
  let later = first;
  await waitUntil(
    async () => {
      const r = await runCli(
        ['query', 'pipeline.yaml', 'SELECT region, orders FROM per_region', '--json'],
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
      later = total(r.stdout);
      return later > first;
    },
    30_000,
    'a later checkpoint to publish more orders',
    run,
  );
  assert.ok(run.alive, 'the answers came from the running pipeline');

  // A statement that writes is refused, and the pipeline goes on.
  const refused = await runCli(['query', 'pipeline.yaml', 'DELETE FROM per_region'], dir);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /only read-only queries/);

  run.kill('SIGTERM');
  const ended = await run.exited;
  assert.equal(ended.code, 0, ended.stderr);

  // Stopped: the file itself is opened read-only, and holds at least what was served.
  const table = await runCli(
    ['query', 'pipeline.yaml', 'SELECT region, orders FROM per_region ORDER BY region'],
    dir,
  );
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^region\s+\| orders\n/);
  assert.match(table.stdout, /\(\d+ rows?\)\n$/);
  const json = await runCli(
    ['query', 'pipeline.yaml', 'SELECT region, orders FROM per_region', '--json'],
    dir,
  );
  assert.ok(
    total(json.stdout) >= later,
    `the file holds ${total(json.stdout)} orders, at least the ${later} served`,
  );
});
