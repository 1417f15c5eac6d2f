/**
 * User-defined aggregate functions (`defineAggregateFunction`) called from SQL through real jobs,
 * against a plain loop over the same records: in a window aggregate and an updating GROUP BY at
 * batch sizes 1, 7 and 1000, with a value on which `add` throws sent to the dead letters (its
 * record in no aggregate), and across a checkpoint, a crash and a restore.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { builtins, Job, type Plan, Registry, type Row, resolvePlan } from '@sluice/core';
import { memoryChannel, testing } from '@sluice/core/testing';
import { compileSql } from './index.ts';
import { defineTestAggregates } from './test-functions.ts';
import { finalTables, outputs, resolveSql, runPlan } from './test-support.ts';

defineTestAggregates();

interface Reading extends Row {
  k: string;
  v: number;
  name: string;
  ts: number;
}

function readings(count: number): Reading[] {
  let x = 5;
  const next = () => {
    x = (x * 48271) % 2147483647;
    return x;
  };
  const names = ['a', 'bb', 'ccc', 'dddd', 'eeeee'];
  return Array.from({ length: count }, (_, i) => ({
    k: ['x', 'y', 'z'][next() % 3],
    // One in about 25 is 0, on which geo_mean's add throws.
    v: next() % 25 === 0 ? 0 : 1 + (next() % 90) / 10,
    name: names[next() % names.length],
    ts: i * 100,
  }));
}

/** geo_mean and longest per group, folded in arrival order as the engine folds them. */
function fold(
  rows: readonly Reading[],
  group: (r: Reading) => string,
): Map<string, { g: number; l: string }> {
  const accs = new Map<string, { logs: number; n: number; l: string | null }>();
  for (const r of rows) {
    if (r.v <= 0) continue;
    const a = accs.get(group(r)) ?? { logs: 0, n: 0, l: null };
    accs.set(group(r), {
      logs: a.logs + Math.log(r.v),
      n: a.n + 1,
      l: a.l === null || r.name.length > a.l.length ? r.name : a.l,
    });
  }
  return new Map(
    [...accs].map(([k, a]) => [k, { g: Math.round(Math.exp(a.logs / a.n) * 1e6) / 1e6, l: a.l ?? '' }]),
  );
}

const TABLES = (source: string) => `
CREATE FUNCTION geo_mean AS 'com.example.GeoMean';
CREATE TABLE readings (k STRING, v DOUBLE, name STRING, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (${source});
CREATE TABLE per_window (k STRING, ws BIGINT, g DOUBLE, l STRING) WITH ('connector' = 'file', 'path' = './out/windows.jsonl');
INSERT INTO per_window
SELECT k, window_start, geo_mean(v), longest(name)
FROM TABLE(TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY k, window_start, window_end;`;

const windowRows = (rows: readonly Reading[]) =>
  [...fold(rows, (r) => `${r.k}|${Math.floor(r.ts / 10_000) * 10_000}`)]
    .map(([key, { g, l }]) => {
      const [k, ws] = key.split('|');
      return JSON.stringify({ k, ws: Number(ws), g, l });
    })
    .sort();

test('a user-defined aggregate in a window and an updating GROUP BY equals a plain loop at several batch sizes; a throwing add is a dead letter', async () => {
  const rows = readings(700);
  const bad = rows.filter((r) => r.v <= 0).length;
  assert.ok(bad > 5, 'some values should make add throw');
  const script = `${TABLES("'connector' = 'file', 'path' = './in.jsonl', 'format' = 'json'")}
CREATE TABLE per_key (k STRING, g DOUBLE, l STRING) WITH ('connector' = 'file', 'path' = './out/keys.jsonl', 'changelog' = 'debezium');
INSERT INTO per_key SELECT k, geo_mean(v), longest(name) FROM readings GROUP BY k;`;
  const perKey = [...fold(rows, (r) => r.k)].map(([k, { g, l }]) => JSON.stringify({ k, g, l })).sort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-udaf-'));
  try {
    writeFileSync(join(dir, 'in.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const resolved = resolveSql(script, join(dir, 'query.sql'));
    const plan: Plan = { ...resolved, deadLetter: { type: 'file', config: { path: './out/dead.jsonl' } } };
    for (const batchSize of [1, 7, 1000]) {
      rmSync(join(dir, 'out'), { recursive: true, force: true });
      await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
      const got = outputs(dir);
      assert.deepEqual(
        [...(got['windows.jsonl'] ?? [])].sort(),
        windowRows(rows),
        `windows, batches of ${batchSize}`,
      );
      assert.deepEqual(
        finalTables({ 'keys.jsonl': got['keys.jsonl'] ?? [] })['keys.jsonl'],
        perKey,
        `GROUP BY k, batches of ${batchSize}`,
      );
      const dead = got['dead.jsonl'] ?? [];
      // Each bad record is refused by each of the two aggregate steps.
      assert.equal(dead.length, 2 * bad, `dead letters, batches of ${batchSize}`);
      assert.ok(
        dead.every((l) => /geo_mean\(\) failed in add: takes positive numbers, got 0/.test(l)),
        dead[0],
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a user-defined aggregate's accumulators survive a checkpoint, a crash and a restore", async () => {
  const registry = new Registry([builtins, testing]);
  const rows = readings(400);
  const channelName = `udaf-restore-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-udaf-restore-'));
  try {
    const file = join(dir, 'query.sql');
    const compiled = resolvePlan(
      compileSql(TABLES(`'connector' = 'memory', 'channel' = '${channelName}'`), file, { registry }),
      registry,
    );
    const plan: Plan = {
      ...compiled,
      settings: {
        ...compiled.settings,
        checkpoint: { ...compiled.settings.checkpoint, interval: 0, dir: './ckpt' },
      },
    };
    const channel = memoryChannel(channelName);
    const first = await Job.create(plan, { registry });
    const running = first.run();
    channel.push('p0', ...rows.slice(0, 150));
    await waitFor(() => first.metrics().recordsIn === 150);
    await first.checkpoint();
    channel.push('p0', ...rows.slice(150, 260));
    await waitFor(() => first.metrics().recordsIn === 260);
    channel.crash('p0');
    await assert.rejects(running, /simulated crash/);
    const second = await Job.create(plan, { registry });
    const resumed = second.run();
    channel.push('p0', ...rows.slice(260));
    channel.end();
    const result = await resumed;
    assert.equal(result.status, 'completed');
    assert.deepEqual([...(outputs(dir)['windows.jsonl'] ?? [])].sort(), windowRows(rows));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function waitFor(cond: () => boolean): Promise<void> {
  const until = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting for the job to read its records');
    await new Promise((r) => setTimeout(r, 5));
  }
}
