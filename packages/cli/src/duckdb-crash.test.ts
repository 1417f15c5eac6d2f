/**
 * Exactly-once into DuckDB across a SIGKILL: `sluice run` of generated orders → `duckdb` (append)
 * is killed after some checkpoints have published rows, then run again to the end. Every order is
 * in the table once: what the killed run published stays, what it staged after its last
 * checkpoint is dropped by the restart and written again.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { queryFile } from '@sluice/duckdb/testing';
import { Cli, checkpointIds, runCli, tempDir, waitUntil } from './cli-test-support.ts';

const ORDERS = 6000;
// At 500 orders a second the first run lasts 12 s: long enough that it is still running when a
// `sluice query` (a whole process start, seconds on a loaded machine) first sees a sixth published.

test('SIGKILL mid-run, then a restart: every order is in the DuckDB table exactly once', async (t) => {
  const dir = await tempDir(t, 'sluice-duckdb-crash-');
  await writeFile(
    join(dir, 'pipeline.yaml'),
    `
name: duckdb-crash
settings:
  checkpoint: { interval: 200ms, dir: ./.sluice }
sources:
  orders: { type: generate, template: orders, seed: 5, count: ${ORDERS}, rate: 500 }
sinks:
  store:
    type: duckdb
    input: orders
    path: ./data/orders.duckdb
    table: orders
    create_table: true
    serve_queries: true
    columns: { seq: BIGINT, region: VARCHAR, amount: DOUBLE }
`,
  );
  const count = async (sql: string) => {
    const r = await runCli(['query', 'pipeline.yaml', sql, '--json'], dir);
    return r.code === 0 ? Number((JSON.parse(r.stdout.trim()) as { n: string | number }).n) : 0;
  };
  const first = new Cli(['run', 'pipeline.yaml', '--log-format', 'json', '--no-status'], {
    cwd: dir,
    limitMs: 60_000,
  });
  t.after(() => first.kill('SIGKILL'));
  let published = 0;
  await waitUntil(
    async () => {
      published = await count('SELECT count(*) AS n FROM orders');
      return published >= ORDERS / 6;
    },
    40_000,
    'a sixth of the orders published',
    first,
  );
  first.kill('SIGKILL');
  const killed = await first.exited;
  assert.equal(killed.signal, 'SIGKILL', 'the first run was killed, not finished');
  assert.ok((await checkpointIds(join(dir, '.sluice/duckdb-crash'))).length > 0, 'it left a checkpoint');

  const second = await runCli(['run', 'pipeline.yaml', '--log-format', 'json', '--no-status'], dir, 60_000);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /"msg":"restored checkpoint"/);
  const rows = await queryFile(
    join(dir, 'data/orders.duckdb'),
    'SELECT count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi FROM orders',
  );
  t.diagnostic(
    `killed with ${published} orders published; after the restart: ${JSON.stringify(rows[0], (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`,
  );
  assert.equal(Number(rows[0].n), ORDERS, 'every order once: no duplicate, none lost');
  assert.equal(Number(rows[0].d), ORDERS);
});
