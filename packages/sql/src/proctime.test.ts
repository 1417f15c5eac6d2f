/**
 * `pt AS PROCTIME()` in CREATE TABLE through a real job at several batch sizes, checked by what
 * does not depend on the clock: a processing-time TUMBLE counts every row once, each window a
 * whole 2 s of the clock within the run; a running count ordered by pt equals a plain loop.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { outputs, resolveSql, runPlan } from './test-support.ts';

const SCRIPT = `
CREATE TABLE clicks (id BIGINT, page STRING, pt AS PROCTIME())
WITH ('connector' = 'file', 'path' = './clicks.jsonl', 'format' = 'json');
CREATE TABLE per_window (page STRING, ws BIGINT, we BIGINT, n BIGINT)
WITH ('connector' = 'file', 'path' = './out/windows.jsonl');
CREATE TABLE running (id BIGINT, page STRING, n BIGINT)
WITH ('connector' = 'file', 'path' = './out/running.jsonl');
INSERT INTO per_window
SELECT page, window_start, window_end, COUNT(*)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(pt), INTERVAL '2' SECOND))
GROUP BY page, window_start, window_end;
INSERT INTO running
SELECT id, page, COUNT(*) OVER (PARTITION BY page ORDER BY pt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
FROM clicks;`;

test('a PROCTIME() column of CREATE TABLE drives processing-time windows and OVER: every row counted once, at several batch sizes', async () => {
  const pages = ['home', 'cart', 'pay', 'faq'];
  const clicks = Array.from({ length: 500 }, (_, id) => ({
    id,
    page: pages[(id * 7) % 5 === 0 ? 3 : id % 3],
  }));
  const perPage = new Map<string, number>();
  const running: string[] = [];
  for (const c of clicks) {
    const n = (perPage.get(c.page) ?? 0) + 1;
    perPage.set(c.page, n);
    running.push(JSON.stringify({ id: c.id, page: c.page, n }));
  }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-proctime-'));
  try {
    writeFileSync(join(dir, 'clicks.jsonl'), `${clicks.map((c) => JSON.stringify(c)).join('\n')}\n`);
    const plan = resolveSql(SCRIPT, join(dir, 'query.sql'));
    const window = plan.steps.find((s) => s.type === 'aggregate')?.config as { time?: string } | undefined;
    assert.equal(window?.time, 'processing', 'the TUMBLE over pt is a processing-time window');
    for (const batchSize of [1, 7, 1000]) {
      rmSync(join(dir, 'out'), { recursive: true, force: true });
      const before = Date.now();
      await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
      const after = Date.now();
      const got = outputs(dir);
      const totals = new Map<string, number>();
      for (const line of got['windows.jsonl'] ?? []) {
        const r = JSON.parse(line) as { page: string; ws: number; we: number; n: number };
        assert.equal(r.we - r.ws, 2000, 'each window is 2 s');
        assert.equal(r.ws % 2000, 0, 'windows are aligned to the clock');
        assert.ok(r.ws >= before - 2000 && r.ws <= after, `window at ${r.ws}, outside the run`);
        totals.set(r.page, (totals.get(r.page) ?? 0) + r.n);
      }
      assert.deepEqual(new Map([...totals].sort()), new Map([...perPage].sort()), `batches of ${batchSize}`);
      assert.deepEqual(got['running.jsonl'], running, `running counts, batches of ${batchSize}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
