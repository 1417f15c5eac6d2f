/**
 * ORDER BY and LIMIT through a real job, against a plain loop over the same records, at several
 * batch sizes: the temporal sort (rows in event-time order, ties by the further term, late rows
 * left out), LIMIT n (the first n rows) and ORDER BY … LIMIT n (the table of the first n by the
 * order that the changelog leaves behind).
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { finalTables, outputs, resolveSql, runPlan } from './test-support.ts';

interface Rec {
  readonly id: number;
  readonly k: number;
  readonly ts: number;
}

/** Records whose times wander up to 3 s back, so that some arrive after the 1 s watermark delay. */
function generate(count: number): Rec[] {
  let x = 17;
  const next = () => {
    x = (x * 48271) % 2147483647;
    return x;
  };
  let clock = 0;
  return Array.from({ length: count }, (_, id) => {
    clock += next() % 400;
    return { id, k: next() % 20, ts: Math.max(0, clock - (next() % 3000)) };
  });
}

const DELAY = 1000;

const SCRIPT = `
CREATE TABLE recs (id BIGINT, k BIGINT, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './in.jsonl', 'format' = 'json');
CREATE TABLE sorted (id BIGINT, k BIGINT, ts BIGINT) WITH ('connector' = 'file', 'path' = './out/sorted.jsonl');
CREATE TABLE firsts (id BIGINT) WITH ('connector' = 'file', 'path' = './out/firsts.jsonl');
CREATE TABLE top (id BIGINT, k BIGINT) WITH ('connector' = 'file', 'path' = './out/top.jsonl', 'changelog' = 'debezium');
INSERT INTO sorted SELECT id, k, ts FROM recs ORDER BY ts, k DESC;
INSERT INTO firsts SELECT id FROM recs WHERE k > 4 LIMIT 17;
INSERT INTO top SELECT id, k FROM recs ORDER BY k DESC, id LIMIT 5;`;

test('ORDER BY time, LIMIT n and ORDER BY … LIMIT n equal a plain loop at several batch sizes', async () => {
  const recs = generate(600);
  // The temporal sort: a record at or behind the watermark (the largest time so far less the
  // delay, less 1 ms) is late; the others come out by time, then k descending, then arrival.
  let maxTs = Number.NEGATIVE_INFINITY;
  const kept: Rec[] = [];
  for (const r of recs) {
    if (r.ts > maxTs - DELAY - 1) kept.push(r);
    maxTs = Math.max(maxTs, r.ts);
  }
  assert.ok(kept.length < recs.length - 20, 'some records should be late');
  const sorted = [...kept]
    .sort((a, b) => a.ts - b.ts || b.k - a.k || a.id - b.id)
    .map((r) => JSON.stringify({ id: r.id, k: r.k, ts: r.ts }));
  const firsts = recs
    .filter((r) => r.k > 4)
    .slice(0, 17)
    .map((r) => JSON.stringify({ id: r.id }));
  const top = [...recs]
    .sort((a, b) => b.k - a.k || a.id - b.id)
    .slice(0, 5)
    .map((r) => JSON.stringify({ id: r.id, k: r.k }))
    .sort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-order-limit-'));
  try {
    writeFileSync(join(dir, 'in.jsonl'), `${recs.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const plan = resolveSql(SCRIPT, join(dir, 'query.sql'));
    for (const batchSize of [1, 7, 1000]) {
      rmSync(join(dir, 'out'), { recursive: true, force: true });
      await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
      const got = outputs(dir);
      assert.deepEqual(got['sorted.jsonl'], sorted, `ORDER BY ts, k DESC; batches of ${batchSize}`);
      assert.deepEqual(got['firsts.jsonl'], firsts, `LIMIT 17; batches of ${batchSize}`);
      assert.deepEqual(
        finalTables({ 'top.jsonl': got['top.jsonl'] ?? [] })['top.jsonl'],
        top,
        `ORDER BY k DESC, id LIMIT 5; batches of ${batchSize}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
