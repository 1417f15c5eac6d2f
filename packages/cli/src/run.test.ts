/**
 * `sluice run` stopped by SIGTERM and SIGINT: a graceful stop exits 0 with a final checkpoint and
 * finished output files, and a restart continues where it stopped.
 */

import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectoryCheckpointStore } from '@sluice/core';
import {
  Cli,
  checkpointIds,
  inProgressFiles,
  readJsonLines,
  tempDir,
  waitUntil,
} from './cli-test-support.ts';

// Unbounded: 2000 orders per second of wall time, 10 ms of event time apart, so a 10 s window
// fires about every half second.
const pipeline = `
name: signals
settings:
  checkpoint: { interval: 300ms, dir: ./.sluice }
sources:
  orders:
    type: generate
    template: orders
    rate: 2000
    seed: 3
    event_time: { field: ts }
steps:
  - id: per-region
    type: aggregate
    input: orders
    key: [region]
    window: { type: tumbling, size: 10s }
    fields: { orders: count(*) }
sinks:
  raw: { type: file, path: ./out/orders.jsonl, input: orders }
  results: { type: file, path: ./out/per-region.jsonl, input: per-region, roll: { max_bytes: 1024 } }
`;

interface Order {
  seq: number;
  ts: number;
  region: string;
}

interface RegionResult {
  region: string;
  window_start: number;
  orders: number;
}

/** Published parts of the rolling results sink, name → content. */
async function resultParts(dir: string): Promise<Map<string, string>> {
  const parts = new Map<string, string>();
  for (const name of (await readdir(join(dir, 'out'))).sort()) {
    if (/^per-region-\d{14}-\d{6}\.jsonl$/.test(name))
      parts.set(name, await readFile(join(dir, 'out', name), 'utf8'));
  }
  return parts;
}

/** Runs until `checkpoints` checkpoints were taken, then stops it with `signal`; returns stderr. */
async function runUntilStopped(dir: string, signal: NodeJS.Signals, checkpoints: number): Promise<string> {
  const store = join(dir, '.sluice/signals');
  const before = (await checkpointIds(store)).at(-1) ?? 0;
  const cli = new Cli(['run', 'pipeline.yaml'], { cwd: dir, limitMs: 30_000 });
  try {
    await waitUntil(
      async () => ((await checkpointIds(store)).at(-1) ?? 0) >= before + checkpoints,
      20_000,
      `${checkpoints} checkpoints`,
      cli,
    );
  } catch (err) {
    cli.kill('SIGKILL');
    throw err;
  }
  cli.kill(signal);
  const ended = await cli.exited;
  assert.equal(ended.code, 0, `exit code after ${signal}\n${ended.stderr}`);
  assert.match(
    ended.stderr,
    new RegExp(`"msg":"stopping: draining, taking a final checkpoint","signal":"${signal}"`),
  );
  assert.match(ended.stderr, /"msg":"pipeline stopped"/);
  return ended.stderr;
}

/** Checks the output after a stop: finished files, a final checkpoint matching them, whole windows. */
async function checkStopped(dir: string, stderr: string): Promise<Order[]> {
  assert.deepEqual(await inProgressFiles(join(dir, 'out')), [], 'no in-progress file is left');
  const orders = readJsonLines<Order>(join(dir, 'out/orders.jsonl'));
  assert.ok(orders.length > 0, 'orders were written');
  assert.deepEqual(
    orders.map((o) => o.seq),
    orders.map((_, i) => i),
    'every order once, in order, none missing',
  );

  const latest = await new DirectoryCheckpointStore(join(dir, '.sluice/signals')).latest();
  assert.ok(latest, 'a final checkpoint exists');
  const stopped = /"msg":"pipeline stopped".*"last_checkpoint":(\d+)/.exec(stderr);
  assert.equal(latest.data.id, Number(stopped?.[1]), 'the newest checkpoint is the one taken at the stop');
  assert.deepEqual(
    latest.data.sources.orders,
    { p0: { next: orders.length } },
    'its position: after the last order',
  );

  // Every window that fired counts exactly the orders of its region and time; none fired twice.
  const expected = new Map<string, number>();
  for (const o of orders) {
    const key = `${o.region}|${Math.floor(o.ts / 10_000) * 10_000}`;
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  const results = [...(await resultParts(dir)).values()].flatMap((text) =>
    text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as RegionResult),
  );
  assert.ok(results.length > 0, 'windows fired');
  const seen = new Set<string>();
  for (const r of results) {
    const key = `${r.region}|${r.window_start}`;
    assert.ok(!seen.has(key), `window ${key} fired once`);
    seen.add(key);
    assert.equal(r.orders, expected.get(key), `orders in window ${key}`);
  }
  return orders;
}

test('SIGTERM, then a restart stopped by SIGINT: exit 0, final checkpoints, finished files, no gap', async (t) => {
  const dir = await tempDir(t, 'sluice-signals-');
  await writeFile(join(dir, 'pipeline.yaml'), pipeline);

  const first = await runUntilStopped(dir, 'SIGTERM', 4);
  const firstOrders = await checkStopped(dir, first);
  const published = await resultParts(dir);

  const second = await runUntilStopped(dir, 'SIGINT', 3);
  assert.match(second, /"msg":"restored checkpoint"/);
  const allOrders = await checkStopped(dir, second);
  assert.ok(allOrders.length > firstOrders.length, 'the restarted run continued reading');
  assert.deepEqual(allOrders.slice(0, firstOrders.length), firstOrders, 'the first run’s orders are kept');

  const after = await resultParts(dir);
  for (const [name, content] of published) {
    assert.equal(after.get(name), content, `part ${name}, published at the first stop, is unchanged`);
  }
});
