/**
 * The scale-out benchmark (`bench/workers.ts`) at a tiny size: one worker process over a few
 * records, and one state move, end to end through the real broker and PostgreSQL. The figures
 * are reported (docs/benchmarks.md), not asserted; this checks that the script still runs.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { kafkaAvailable } from '@sluice/kafka/testing';
import { postgresMissing } from '@sluice/postgres/testing';

const kafka = await kafkaAvailable();
const pgMissing = await postgresMissing();

test('bench/workers.ts runs: a worker process reads the topic, a state moves on a graceful rebalance', {
  skip: !kafka ? 'kafka not reachable' : pgMissing,
  timeout: 180_000,
}, async (t) => {
  const args = [
    '--records',
    '4000',
    '--runs',
    '1',
    '--only',
    'p1',
    '--state-keys',
    '200',
    '--state-runs',
    '1',
  ];
  const child = spawn(process.execPath, [
    new URL('./workers.ts', import.meta.url).pathname,
    ...args,
    '--json',
  ]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, stderr);
  const out = JSON.parse(stdout) as {
    rows: { config: string; startupSeconds: number }[];
    stateRows: { keys: number; stateBytes: number; moveMs: number }[];
  };
  t.diagnostic(stdout);
  assert.deepEqual(
    out.rows.map((r) => r.config),
    ['p1'],
  );
  assert.ok(out.rows[0].startupSeconds > 0);
  assert.equal(out.stateRows[0].keys, 200);
  assert.ok(out.stateRows[0].stateBytes > 0, 'the moved state has a size');
  assert.ok(out.stateRows[0].moveMs > 0, 'the move took some time');
});
