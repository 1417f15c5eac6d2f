/**
 * A source of a table's changes (`SourceSpec.changelog`, `SourceBatch.kinds`): its kinds reach
 * the sinks beside their records — also when a record before them is a dead letter, which takes
 * it out of the batch — so that an upsert sink and a Debezium sink, folded into tables, hold the
 * table the changes describe, whatever the batch size.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { Type } from 'typebox';
import { DELETE, INSERT, type Row, type RowKind, UPDATE_AFTER, UPDATE_BEFORE } from '../record.ts';
import { defineSource } from '../spec.ts';
import { foldChangelogRows } from '../testing/conformance-support.ts';
import { seededRandom } from '../testing/random.ts';
import { Harness, planFrom, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';

/** The changes: inserts, updates (by the new row alone) and deletes of rows keyed by `id`. */
const changes: { kind: RowKind; row: Row }[] = [
  { kind: INSERT, row: { id: 1, name: 'ada', ts: 1000 } },
  { kind: INSERT, row: { id: 2, name: 'bob', ts: 1001 } },
  // No valid event time: a dead letter, which must not shift the kinds of the records after it.
  { kind: INSERT, row: { id: 9, name: 'bad', ts: 'never' } },
  { kind: UPDATE_AFTER, row: { id: 1, name: 'ada lovelace', ts: 1002 } },
  { kind: DELETE, row: { id: 2, ts: 1003 } },
  { kind: INSERT, row: { id: 3, name: 'cy', ts: 1004 } },
  { kind: UPDATE_AFTER, row: { id: 3, name: 'cyd', ts: 1005 } },
];

const source = defineSource({
  type: 'changes',
  summary: 'Replays a fixed list of changes, `batch` at a time.',
  delivery: 'exactly-once',
  config: Type.Object({ batch: Type.Integer({ minimum: 1 }) }),
  bounded: () => true,
  changelog: () => ({ mode: 'upsert', key: ['id'], reason: 'it replays changes' }),
  create: (config) => ({
    open: async (ctx) => {
      let next = (ctx.restored.changes as number | undefined) ?? 0;
      return [
        {
          partition: 'changes',
          read: async () => {
            if (next >= changes.length) return null;
            const slice = changes.slice(next, next + config.batch);
            next += slice.length;
            return { records: slice.map((c) => c.row), kinds: slice.map((c) => c.kind) };
          },
          position: () => next,
          close: async () => {},
        },
      ];
    },
  }),
});

const registry = testRegistry({ name: 'changes', components: [source] });
const h = new Harness();
afterEach(() => h.stopAll());

describe('a source of changes', () => {
  for (const batch of [1, 2, 7]) {
    test(`its kinds reach the sinks with their records (batches of ${batch})`, async () => {
      const dir = await h.dir();
      const yaml = `
name: source-changes
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: changes, batch: ${batch}, event_time: { field: ts } }
sinks:
  upserts: { type: file, path: ./out/upserts.jsonl, changelog: upsert, key: [id] }
  changes: { type: file, path: ./out/changes.jsonl, changelog: debezium, input: in }
`;
      const result = await h.run(await Job.create(planFrom(yaml, dir, registry), { registry }));
      assert.equal(result.metrics.deadLetters, 1);
      const table = async (file: string, format: 'upsert' | 'debezium') => {
        const text = await readFile(join(dir, 'out', file), 'utf8');
        const rows = text
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as Row);
        return foldChangelogRows(rows, format, 'id');
      };
      const want = [
        { id: 1, name: 'ada lovelace', ts: 1002 },
        { id: 3, name: 'cyd', ts: 1005 },
      ];
      assert.deepEqual(await table('upserts.jsonl', 'upsert'), want);
      assert.deepEqual(await table('changes.jsonl', 'debezium'), want);
    });
  }
});

/** A seeded run of inserts, updates (moving rows between regions too) and deletes of a table, as a retract stream. */
function tableChanges(n: number): { kind: RowKind; row: Row }[] {
  const random = seededRandom(11);
  const rows = new Map<number, Row>();
  const out: { kind: RowKind; row: Row }[] = [];
  let ts = 1000;
  for (let i = 0; i < n; i++) {
    const id = Math.floor(random() * 40);
    const old = rows.get(id);
    const row = { id, region: `r${Math.floor(random() * 4)}`, amount: Math.floor(random() * 100), ts: ts++ };
    if (old === undefined) {
      out.push({ kind: INSERT, row });
      rows.set(id, row);
    } else if (random() < 0.3) {
      out.push({ kind: DELETE, row: { ...old, ts: ts++ } });
      rows.delete(id);
    } else {
      out.push({ kind: UPDATE_BEFORE, row: { ...old, ts: ts++ } });
      out.push({ kind: UPDATE_AFTER, row });
      rows.set(id, row);
    }
  }
  return out;
}

const retractSource = defineSource({
  type: 'table_changes',
  summary: 'Replays seeded changes of a table as a retract stream, `batch` at a time.',
  delivery: 'exactly-once',
  config: Type.Object({ batch: Type.Integer({ minimum: 1 }), count: Type.Integer({ minimum: 1 }) }),
  bounded: () => true,
  changelog: () => ({ mode: 'retract', key: ['id'], reason: 'it replays changes' }),
  create: (config) => ({
    open: async (ctx) => {
      const all = tableChanges(config.count);
      let next = (ctx.restored.changes as number | undefined) ?? 0;
      return [
        {
          partition: 'changes',
          read: async () => {
            if (next >= all.length) return null;
            const slice = all.slice(next, next + config.batch);
            next += slice.length;
            return { records: slice.map((c) => c.row), kinds: slice.map((c) => c.kind) };
          },
          position: () => next,
          close: async () => {},
        },
      ];
    },
  }),
});

const retractRegistry = testRegistry({ name: 'table-changes', components: [retractSource] });

describe('an aggregate over a retract stream', () => {
  /** The totals per region of the table the changes leave, computed here from the final rows. */
  function expectedTotals(count: number): Row[] {
    const rows = new Map<unknown, Row>();
    for (const { kind, row } of tableChanges(count)) {
      if (kind === INSERT || kind === UPDATE_AFTER) rows.set(row.id, row);
      else rows.delete(row.id);
    }
    const totals = new Map<string, { n: number; sum: number; lo: number; hi: number }>();
    for (const r of rows.values()) {
      const a = Number(r.amount);
      const t = totals.get(String(r.region)) ?? { n: 0, sum: 0, lo: a, hi: a };
      t.n++;
      t.sum += a;
      t.lo = Math.min(t.lo, a);
      t.hi = Math.max(t.hi, a);
      totals.set(String(r.region), t);
    }
    return [...totals.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([region, t]) => ({ region, orders: t.n, revenue: t.sum, mean: t.sum / t.n, lo: t.lo, hi: t.hi }));
  }

  for (const batch of [1, 7, 1024]) {
    test(`takes each update-before and delete back, min and max too: the totals of the final table (batches of ${batch})`, async () => {
      const dir = await h.dir();
      const count = 600;
      const yaml = `
name: retract-aggregate
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: table_changes, batch: ${batch}, count: ${count}, event_time: { field: ts } }
steps:
  - id: totals
    type: aggregate
    key: [region]
    fields: { orders: count(*), revenue: sum(amount), mean: avg(amount), lo: min(amount), hi: max(amount) }
sinks:
  out: { type: file, path: ./out/totals.jsonl, changelog: debezium }
`;
      const result = await h.run(
        await Job.create(planFrom(yaml, dir, retractRegistry), { registry: retractRegistry }),
      );
      assert.equal(result.status, 'completed');
      const text = await readFile(join(dir, 'out', 'totals.jsonl'), 'utf8');
      const rows = text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Row);
      const folded = foldChangelogRows(rows, 'debezium', 'region').sort((a, b) =>
        String(a.region).localeCompare(String(b.region)),
      );
      assert.deepEqual(folded, expectedTotals(count));
    });
  }

  test('a region left with no row is deleted, and its next row starts it afresh', async () => {
    const dir = await h.dir();
    const changes: { kind: RowKind; row: Row }[] = [
      { kind: INSERT, row: { id: 1, region: 'eu', amount: 5, ts: 1 } },
      { kind: INSERT, row: { id: 2, region: 'eu', amount: null, ts: 2 } },
      // Row 1 moves to 'us': 'eu' keeps row 2 alone, whose amount is NULL, so its sum is NULL.
      { kind: UPDATE_BEFORE, row: { id: 1, region: 'eu', amount: 5, ts: 3 } },
      { kind: UPDATE_AFTER, row: { id: 1, region: 'us', amount: 5, ts: 3 } },
      { kind: DELETE, row: { id: 2, region: 'eu', amount: null, ts: 4 } },
      { kind: INSERT, row: { id: 3, region: 'eu', amount: 7, ts: 5 } },
    ];
    const replay = defineSource({
      type: 'replay',
      summary: 'Replays a fixed retract stream.',
      delivery: 'exactly-once',
      config: Type.Object({}),
      bounded: () => true,
      changelog: () => ({ mode: 'retract', key: ['id'], reason: 'it replays changes' }),
      create: () => ({
        open: async () => {
          let done = false;
          return [
            {
              partition: 'replay',
              read: async () => {
                if (done) return null;
                done = true;
                return { records: changes.map((c) => c.row), kinds: changes.map((c) => c.kind) };
              },
              position: () => done,
              close: async () => {},
            },
          ];
        },
      }),
    });
    const reg = testRegistry({ name: 'replay', components: [replay] });
    const yaml = `
name: retract-aggregate-empty
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: replay, event_time: { field: ts } }
steps:
  - { id: totals, type: aggregate, key: [region], fields: { rows: count(*), revenue: sum(amount) } }
sinks:
  out: { type: file, path: ./out/totals.jsonl, changelog: debezium }
`;
    await h.run(await Job.create(planFrom(yaml, dir, reg), { registry: reg }));
    const text = await readFile(join(dir, 'out', 'totals.jsonl'), 'utf8');
    const envelopes = text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const e = JSON.parse(line) as { op: string; before: Row | null; after: Row | null };
        return { op: e.op, before: e.before, after: e.after };
      });
    assert.deepEqual(envelopes, [
      { op: 'c', before: null, after: { region: 'eu', rows: 1, revenue: 5 } },
      {
        op: 'u',
        before: { region: 'eu', rows: 1, revenue: 5 },
        after: { region: 'eu', rows: 2, revenue: 5 },
      },
      {
        op: 'u',
        before: { region: 'eu', rows: 2, revenue: 5 },
        after: { region: 'eu', rows: 1, revenue: null },
      },
      { op: 'c', before: null, after: { region: 'us', rows: 1, revenue: 5 } },
      { op: 'd', before: { region: 'eu', rows: 1, revenue: null }, after: null },
      { op: 'c', before: null, after: { region: 'eu', rows: 1, revenue: 7 } },
    ]);
  });

  test('an aggregate whose functions cannot take a value back refuses a retract stream', async () => {
    const dir = await h.dir();
    const yaml = `
name: retract-aggregate-first
sources:
  in: { type: table_changes, batch: 5, count: 10, event_time: { field: ts } }
steps:
  - { id: lowest, type: aggregate, key: [region], fields: { low: first(amount) } }
sinks:
  out: { type: discard }
`;
    await assert.rejects(
      Job.create(planFrom(yaml, dir, retractRegistry), { registry: retractRegistry }),
      /step 'lowest' \(aggregate\) takes only appends, but its input 'in' is a retract changelog/,
    );
  });
});
