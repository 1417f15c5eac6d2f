/**
 * Changelogs end to end: an aggregate without a window into `file` sinks writing `upsert` and
 * `debezium` lines. Each file, folded into a table, equals a plain computation over the input —
 * also after a crash and a restore from a checkpoint taken mid-stream — and the plan check refuses
 * a sink without `changelog`.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { memoryChannel } from '../testing/index.ts';
import { seededRandom } from '../testing/random.ts';
import { Harness, planFrom, runCrashedAndRestored, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

const yaml = (name: string, batch: number) => `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batch} }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts } }
steps:
  - id: totals
    type: aggregate
    key: [region]
    fields:
      orders: count(*)
      revenue: sum(amount)
sinks:
  upserts: { type: file, path: ./out/upserts.jsonl, changelog: upsert, key: [region] }
  changes: { type: file, path: ./out/changes.jsonl, changelog: debezium, input: totals }
`;

function input(n: number): Row[] {
  const random = seededRandom(5);
  return Array.from({ length: n }, (_, i) => ({
    ts: 1000 + i,
    region: `r${Math.floor(random() * 9)}`,
    amount: Math.floor(random() * 100),
  }));
}

/** The final table by a plain loop: region → { region, orders, revenue }. */
function expected(records: readonly Row[]): Map<string, Row> {
  const table = new Map<string, Row>();
  for (const r of records) {
    const region = r.region as string;
    const t = table.get(region) ?? { region, orders: 0, revenue: 0 };
    table.set(region, {
      region,
      orders: (t.orders as number) + 1,
      revenue: (t.revenue as number) + (r.amount as number),
    });
  }
  return table;
}

async function lines(dir: string, file: string): Promise<Row[]> {
  const text = await readFile(join(dir, 'out', file), 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Row);
}

/** Folds upsert lines by region: a row replaces the region's row, a delete marker removes it. */
function foldUpserts(rows: readonly Row[]): Map<string, Row> {
  const table = new Map<string, Row>();
  for (const row of rows) {
    if (row.__deleted === true) table.delete(row.region as string);
    else table.set(row.region as string, row);
  }
  return table;
}

/** Folds Debezium envelopes as a retract changelog: `before` leaves the table, `after` enters it. */
function foldDebezium(rows: readonly Row[]): Map<string, Row> {
  const table = new Map<string, Row>();
  for (const { before, after, op } of rows as { before: Row | null; after: Row | null; op: string }[]) {
    if (before !== null) {
      assert.deepEqual(table.get(before.region as string), before, `op ${op} retracts the row in the table`);
      table.delete(before.region as string);
    }
    if (after !== null) {
      assert.ok(!table.has(after.region as string), `op ${op} adds a row whose key is free`);
      table.set(after.region as string, after);
    }
  }
  return table;
}

describe('changelog sinks', () => {
  for (const batch of [1, 7, 1024]) {
    test(`upsert and debezium files fold into the aggregate's table (batch size ${batch})`, async () => {
      const dir = await h.dir();
      const name = `changelog-${batch}`;
      const channel = memoryChannel(name, ['p0']);
      const records = input(500);
      channel.push('p0', ...records);
      channel.end();
      const job = await Job.create(planFrom(yaml(name, batch), dir, registry), { registry });
      const result = await h.run(job);
      assert.equal(result.status, 'completed');
      const upserts = await lines(dir, 'upserts.jsonl');
      const changes = await lines(dir, 'changes.jsonl');
      assert.equal(upserts.length, 500, 'one line per record: each changes its region’s result');
      assert.equal(changes.filter((c) => c.op === 'c').length, 9);
      assert.equal(changes.filter((c) => c.op === 'u').length, 491);
      assert.deepEqual(foldUpserts(upserts), expected(records));
      assert.deepEqual(foldDebezium(changes), expected(records));
    });
  }

  test('a filter after the aggregate keeps the changelog foldable: a retraction whose update it drops deletes', async () => {
    const dir = await h.dir();
    const name = 'changelog-filtered';
    const channel = memoryChannel(name, ['p0']);
    const records = input(300);
    channel.push('p0', ...records);
    channel.end();
    const text = yaml(name, 7)
      .replace('sinks:', '  - id: even\n    type: filter\n    where: orders % 2 = 0\nsinks:')
      .replace('input: totals', 'input: even');
    const job = await Job.create(planFrom(text, dir, registry), { registry });
    assert.equal((await h.run(job)).status, 'completed');
    const upserts = await lines(dir, 'upserts.jsonl');
    assert.ok(upserts.some((r) => r.__deleted === true));
    const even = new Map([...expected(records)].filter(([, row]) => (row.orders as number) % 2 === 0));
    assert.ok(even.size > 0 && even.size < 9);
    assert.deepEqual(foldUpserts(upserts), even);
    const changes = await lines(dir, 'changes.jsonl');
    assert.deepEqual(foldDebezium(changes), even);
    // Each region's count goes odd, even, odd…: the filter keeps one half of every update, which
    // enters (`c`) or leaves (`d`) the result; no update is left without its other half.
    assert.deepEqual(
      changes.filter((c) => c.op === 'u'),
      [],
    );
    assert.equal(changes.length, 300 - 9, 'one change per record but each region’s first (count 1)');
  });

  test('restored from a checkpoint mid-stream, the files fold into the same table', async () => {
    const dir = await h.dir();
    const name = 'changelog-restore';
    const channel = memoryChannel(name, ['p0']);
    const records = input(600);
    const plan = planFrom(yaml(name, 50), dir, registry);
    const result = await runCrashedAndRestored(h, registry, plan, channel, records, {
      checkpointAt: 250,
      crashAt: 400,
      onRestored: (again) => assert.equal(again.metrics().recordsIn, 250, 'restored the checkpoint'),
    });
    assert.equal(result.status, 'completed');
    const upserts = await lines(dir, 'upserts.jsonl');
    assert.equal(upserts.length, 600, 'each record’s change written once');
    assert.deepEqual(foldUpserts(upserts), expected(records));
    assert.deepEqual(foldDebezium(await lines(dir, 'changes.jsonl')), expected(records));
  });

  test('a sink without `changelog` is refused, saying how to set it', async () => {
    const dir = await h.dir();
    const text = yaml('refused', 10)
      .replace(', changelog: upsert, key: [region]', '')
      .replace(/\n {2}changes:.*\n/, '\n');
    await assert.rejects(Job.create(planFrom(text, dir, registry), { registry }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'PLAN_CHANGELOG_MISMATCH');
      assert.equal(err.step, 'upserts');
      assert.equal(err.line, 14);
      assert.match(
        err.message,
        /^sink 'upserts' \(file\) takes only appends, but its input 'totals' is a retract changelog/,
      );
      assert.match(
        err.message,
        /to write the changes, set `changelog: debezium`.*or `changelog: upsert` with `key: \[fields\]`/,
      );
      return true;
    });
  });

  test('changelog: upsert without key, and a changelog in CSV, are config errors', async () => {
    const dir = await h.dir();
    const noKey = yaml('no-key', 10).replace(', key: [region]', '');
    await assert.rejects(Job.create(planFrom(noKey, dir, registry), { registry }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.deepEqual([err.code, err.step, err.path], ['CONFIG_INVALID', 'upserts', 'key']);
      return true;
    });
    const csv = yaml('csv', 10).replace('changelog: debezium,', 'changelog: debezium, format: csv,');
    await assert.rejects(Job.create(planFrom(csv, dir, registry), { registry }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.deepEqual([err.code, err.step, err.path], ['CONFIG_INVALID', 'changes', 'changelog']);
      return true;
    });
  });
});

test('dead letters of an updating stream say which change failed, from a step and from a sink', async () => {
  const dir = await h.dir();
  const name = 'changelog-dead-kinds';
  const channel = memoryChannel(name, ['p0']);
  channel.push('p0', ...[1, 2, 3].map((i) => ({ ts: 1000 + i, region: 'eu', amount: i })), {
    ts: 2000,
    region: 'us',
    amount: 1,
  });
  channel.end();
  const text = `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts } }
dead_letter: { type: file, path: ./out/dead.jsonl }
steps:
  - id: totals
    type: aggregate
    key: [region]
    fields: { orders: count(*) }
  - id: ratio
    type: map
    fields: { per_other: 10 / (orders - 2) }
sinks:
  table: { type: file, path: ./out/table.jsonl, changelog: upsert, key: [region, missing] }
`;
  const job = await Job.create(planFrom(text, dir, registry), { registry });
  assert.equal((await h.run(job)).status, 'completed');
  const dead = await lines(dir, 'dead.jsonl');
  const brief = dead.map((d) => [d.step, d.kind ?? 'insert', (d.payload as Row).orders]);
  // orders = 2 divides by zero in `ratio`: its update-after (2) and, later, its update-before (2).
  assert.deepEqual(
    brief.filter(([step]) => step === 'ratio'),
    [
      ['ratio', 'update_after', 2],
      ['ratio', 'update_before', 2],
    ],
  );
  // Every other change reaches the sink, which rejects each (no `missing` key field; the key
  // includes the stream's, [region], so the plan check lets it through).
  assert.deepEqual(
    brief.filter(([step]) => step === 'table').map(([, kind, orders]) => `${kind}:${orders}`),
    ['insert:1', 'update_before:1', 'update_after:3', 'insert:1'],
  );
});
