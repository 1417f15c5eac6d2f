/**
 * AVG of an integer column is an integer, as in Flink: the mean truncated toward zero, where the
 * planner knows the column holds integers (integral.ts) — checked against a plain loop over the
 * same records at several batch sizes, through a view, a ROW member and a join's MAX (Nexmark q4's
 * shape); a DOUBLE column or an expression keeps the double mean.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ColumnDef } from './ast.ts';
import { integralColumns } from './integral.ts';
import { finalTables, outputs, resolveSql, runPlan } from './test-support.ts';

test('the INT-family columns of a table, ROW members by dotted path', () => {
  const column = (name: string, type: string): ColumnDef => ({ name: { text: name, start: 0 }, type });
  assert.deepEqual(
    [
      ...integralColumns([
        column('a', 'BIGINT'),
        column('b', 'DOUBLE'),
        column('c', 'INT NOT NULL'),
        column('r', 'ROW<x SMALLINT, y VARCHAR, z ROW<w TINYINT, v DECIMAL(10, 2)>>'),
        column('d', 'DECIMAL(10, 0)'),
      ]),
    ].sort(),
    ['a', 'c', 'r.x', 'r.z.w'],
  );
});

const script = `CREATE TABLE t (k STRING, n BIGINT, d DOUBLE, r ROW<m INT>)
WITH ('connector' = 'file', 'path' = './in.jsonl', 'format' = 'json');
CREATE TABLE s (k STRING, cat BIGINT) WITH ('connector' = 'file', 'path' = './cats.jsonl', 'format' = 'json');
CREATE VIEW v AS SELECT k, n, d, r.m AS m FROM t;
CREATE TABLE o (k STRING, avg_n BIGINT, avg_m BIGINT, avg_d DOUBLE, avg_e DOUBLE)
WITH ('connector' = 'file', 'path' = './out/o.jsonl', 'changelog' = 'debezium');
CREATE TABLE j (cat BIGINT, avg_max BIGINT) WITH ('connector' = 'file', 'path' = './out/j.jsonl', 'changelog' = 'debezium');
EXECUTE STATEMENT SET BEGIN
INSERT INTO o SELECT k, AVG(n), AVG(m), AVG(d), AVG(n * 1.5) FROM v GROUP BY k;
INSERT INTO j SELECT Q.cat, AVG(Q.top) FROM (
  SELECT MAX(t.n) AS top, s.cat FROM t, s WHERE t.k = s.k GROUP BY t.k, s.cat
) Q GROUP BY Q.cat;
END;`;

test('AVG of an integer column truncates toward zero; of a DOUBLE or an expression it does not', async () => {
  const records = Array.from({ length: 120 }, (_, i) => ({
    k: `k${i % 7}`,
    n: ((i * 37) % 23) - 11,
    d: (i % 5) * 0.5 - 1,
    r: { m: ((i * 13) % 17) - 9 },
  }));
  const cats = Array.from({ length: 7 }, (_, i) => ({ k: `k${i}`, cat: i % 3 }));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const byKey = new Map<string, (typeof records)[number][]>();
  for (const r of records) byKey.set(r.k, [...(byKey.get(r.k) ?? []), r]);
  const o = [...byKey].map(([k, rs]) =>
    JSON.stringify({
      k,
      avg_n: Math.trunc(mean(rs.map((r) => r.n))),
      avg_m: Math.trunc(mean(rs.map((r) => r.r.m))),
      avg_d: mean(rs.map((r) => r.d)),
      avg_e: mean(rs.map((r) => r.n * 1.5)),
    }),
  );
  const tops = new Map<number, number[]>();
  for (const c of cats) {
    const top = Math.max(...(byKey.get(c.k) ?? []).map((r) => r.n));
    tops.set(c.cat, [...(tops.get(c.cat) ?? []), top]);
  }
  const j = [...tops].map(([cat, ts]) => JSON.stringify({ cat, avg_max: Math.trunc(mean(ts)) }));
  assert.ok(o.some((row) => /"avg_n":-\d/.test(row)) && o.some((row) => /"avg_d":-?\d+\.\d/.test(row)));
  const sorted = (rows: string[]) => rows.map((row) => JSON.stringify(JSON.parse(row))).sort();
  for (const batchSize of [1, 7, 1000]) {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-avg-'));
    try {
      writeFileSync(join(dir, 'in.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
      writeFileSync(join(dir, 'cats.jsonl'), `${cats.map((r) => JSON.stringify(r)).join('\n')}\n`);
      const plan = resolveSql(script, join(dir, 'q.sql'));
      await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
      const tables = finalTables(outputs(dir));
      assert.deepEqual(sorted(tables['o.jsonl'] ?? []), sorted(o), `batches of ${batchSize}`);
      assert.deepEqual(sorted(tables['j.jsonl'] ?? []), sorted(j), `batches of ${batchSize}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
