/**
 * UNION (distinct) through a real job, against a plain loop: the distinct rows of the queries'
 * rows, each once, whatever the batch size. NULLs are rows like others (SQL's UNION treats two
 * NULLs as not distinct).
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { outputs, resolveSql, runPlan } from './test-support.ts';

interface Rec {
  readonly k: number | null;
  readonly s: string;
  readonly ts: number;
}

/** `count` records from a small seeded generator: few distinct values, so many repeats. */
function generate(seed: number, count: number): Rec[] {
  let x = seed;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return Math.floor(x / 65536);
  };
  return Array.from({ length: count }, (_, i) => {
    const k = next() % 13;
    return { k: k === 0 ? null : k, s: ['a', 'b', 'c', 'd'][next() % 4], ts: i * 10 };
  });
}

const SCRIPT = `
CREATE TABLE lefts (k BIGINT, s STRING, ts BIGINT) WITH ('connector' = 'file', 'path' = './left.jsonl', 'format' = 'json');
CREATE TABLE rights (k BIGINT, s STRING, ts BIGINT) WITH ('connector' = 'file', 'path' = './right.jsonl', 'format' = 'json');
CREATE TABLE out_t (k BIGINT, s STRING) WITH ('connector' = 'file', 'path' = './out/union.jsonl');
INSERT INTO out_t
SELECT k, s FROM lefts WHERE k IS NULL OR k < 10
UNION
SELECT k, s FROM rights
UNION
SELECT k, 'z' FROM lefts WHERE s = 'a';`;

test('UNION equals a plain loop (each distinct row of the three queries once) at several batch sizes', async () => {
  const left = generate(7, 400);
  const right = generate(31, 300);
  const rows = [
    ...left.filter((r) => r.k === null || r.k < 10).map((r) => ({ k: r.k, s: r.s })),
    ...right.map((r) => ({ k: r.k, s: r.s })),
    ...left.filter((r) => r.s === 'a').map((r) => ({ k: r.k, s: 'z' })),
  ];
  const want = [...new Set(rows.map((r) => JSON.stringify(r)))].sort();
  assert.ok(rows.length > want.length * 5, 'the input should repeat rows');
  assert.ok(want.length > 30, `the input should give many distinct rows, got ${want.length}`);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-union-'));
  try {
    const lines = (recs: readonly Rec[]) => `${recs.map((r) => JSON.stringify(r)).join('\n')}\n`;
    writeFileSync(join(dir, 'left.jsonl'), lines(left));
    writeFileSync(join(dir, 'right.jsonl'), lines(right));
    const plan = resolveSql(SCRIPT, join(dir, 'query.sql'));
    for (const batchSize of [1, 7, 1000]) {
      rmSync(join(dir, 'out'), { recursive: true, force: true });
      await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
      const got = outputs(dir)['union.jsonl'] ?? [];
      assert.deepEqual([...got].sort(), want, `batches of ${batchSize}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
