/**
 * The `aggregate` step without a window: a retract changelog per key, the same whatever the batch
 * size, whose folded table equals a plain computation over the input, and which resumes from a
 * checkpoint taken mid-stream as if it had never stopped.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { count, sum } from '../api/aggregates.ts';
import { sinkOf, sourceOf } from '../api/components.ts';
import { pipeline } from '../api/pipeline.ts';
import { builtins } from '../builtins.ts';
import { SluiceError } from '../errors.ts';
import type { Operator } from '../operator.ts';
import { resolvePlan } from '../plan/resolve.ts';
import {
  type Batch,
  DELETE,
  INSERT,
  kindAt,
  type Row,
  type RowKind,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../record.ts';
import { Registry } from '../registry.ts';
import { Job } from '../runtime/job.ts';
import { memoryChannel, memorySinkStore, testing } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';
import { seededRandom } from '../testing/random.ts';
import { ManualClock } from '../time.ts';
import { CollectingOutput, roundTrip } from '../window/test-support.ts';
import { aggregateStep } from './aggregate-step.ts';

const FIELDS = {
  n: 'count(*)',
  total: 'sum(amount)',
  hi: 'max(amount)',
  spread: 'max(amount) - min(amount)',
};

function step(fields: { [name: string]: string } = FIELDS, key: string[] | null = ['region']): Operator {
  return aggregateStep.create(
    {
      ...(key !== null ? { key } : {}),
      time: 'event',
      fields,
      allowed_lateness: '0s',
      on_late: 'late_output',
    },
    { id: 'totals', baseDir: '.', clock: new ManualClock(0), functions: new Map() },
  );
}

function open(op: Operator, restored?: unknown): void {
  op.open?.({
    stepId: 'totals',
    restored,
    clock: new ManualClock(0),
    watermark: () => Number.NEGATIVE_INFINITY,
  });
}

/** One change: the record, its kind and time. */
type Change = [Row, RowKind, number];

/** Everything emitted, record by record, and the dead letters' input positions. */
function changes(out: CollectingOutput): Change[] {
  return out.batches.flatMap((b) => b.records.map((r, i): Change => [r, kindAt(b, i), b.times[i]]));
}

/** 5,000 records over 37 regions; amounts are integers, NULL, or now and then text (a dead letter). */
function input(seed = 7): Row[] {
  const random = seededRandom(seed);
  return Array.from({ length: 5000 }, (_, i) => {
    const roll = random();
    const amount = roll < 0.05 ? null : roll < 0.07 ? 'x' : Math.floor(random() * 2000) - 500;
    return { id: i, region: `r${Math.floor(random() * 37)}`, amount };
  });
}

function batches(records: Row[], size: number, from = 0): Batch[] {
  const out: Batch[] = [];
  for (let s = 0; s < records.length; s += size) {
    const part = records.slice(s, s + size);
    out.push({ records: part, times: part.map((_, k) => 1000 + from + s + k) });
  }
  return out;
}

function run(records: Row[], size: number, op = step(), from = 0): CollectingOutput {
  const out = new CollectingOutput();
  for (const b of batches(records, size, from)) op.processBatch(b, out);
  return out;
}

/** Folds a retract changelog into the table it describes: one entry per distinct row, with its count. */
function fold(log: readonly Change[]): Map<string, number> {
  const table = new Map<string, number>();
  for (const [record, kind] of log) {
    const row = JSON.stringify(record);
    const count = table.get(row) ?? 0;
    if (kind === INSERT || kind === UPDATE_AFTER) table.set(row, count + 1);
    else {
      assert.ok(count > 0, `retracts a row that is not in the table: ${row}`);
      if (count === 1) table.delete(row);
      else table.set(row, count - 1);
    }
  }
  return table;
}

/** The same table computed by a plain loop: per region, the records whose amount is a number or NULL. */
function expectedTable(records: readonly Row[]): Map<string, number> {
  const groups = new Map<string, { n: number; total: number | null; hi: number | null; lo: number | null }>();
  for (const r of records) {
    if (typeof r.amount === 'string') continue;
    const region = r.region as string;
    let g = groups.get(region);
    if (g === undefined) {
      g = { n: 0, total: null, hi: null, lo: null };
      groups.set(region, g);
    }
    g.n++;
    if (typeof r.amount === 'number') {
      g.total = (g.total ?? 0) + r.amount;
      g.hi = g.hi === null ? r.amount : Math.max(g.hi, r.amount);
      g.lo = g.lo === null ? r.amount : Math.min(g.lo, r.amount);
    }
  }
  const table = new Map<string, number>();
  for (const [region, g] of groups) {
    const spread = g.hi === null || g.lo === null ? null : g.hi - g.lo;
    table.set(JSON.stringify({ region, n: g.n, total: g.total, hi: g.hi, spread }), 1);
  }
  return table;
}

describe('aggregate without a window', () => {
  test('first result of a key is an insert, a change an update-before/after pair, no change nothing', () => {
    const op = step({ hi: 'max(amount)' });
    open(op);
    const out = run(
      [
        { region: 'a', amount: 5 },
        { region: 'b', amount: 1 },
        { region: 'a', amount: 3 },
        { region: 'a', amount: 9 },
      ],
      1,
      op,
    );
    assert.deepEqual(changes(out), [
      [{ region: 'a', hi: 5 }, INSERT, 1000],
      [{ region: 'b', hi: 1 }, INSERT, 1001],
      [{ region: 'a', hi: 5 }, UPDATE_BEFORE, 1003],
      [{ region: 'a', hi: 9 }, UPDATE_AFTER, 1003],
    ]);
  });

  test('batch sizes 1, 7 and 1024 give the same changelog and dead letters', () => {
    const records = input();
    const runs = [1, 7, 1024].map((size) => {
      const op = step();
      open(op);
      const out = run(records, size, op);
      return { log: changes(out), dead: out.dead.map((d) => [d.record.id, d.error.code]) };
    });
    assert.ok(runs[0].log.length > records.length);
    assert.ok(runs[0].dead.length > 0);
    assert.deepEqual(runs[1], runs[0]);
    assert.deepEqual(runs[2], runs[0]);
    for (const [, code] of runs[0].dead) assert.equal(code, 'EXPR_EVAL');
  });

  test('the folded changelog equals a plain computation over the input', () => {
    const records = input(11);
    const op = step();
    open(op);
    const out = run(records, 7, op);
    const log = changes(out);
    assert.ok(log.every(([, kind]) => kind !== DELETE));
    // Every UPDATE_BEFORE is followed at once by its UPDATE_AFTER, in the same batch.
    for (const b of out.batches) {
      for (let i = 0; i < b.records.length; i++) {
        if (kindAt(b, i) !== UPDATE_BEFORE) continue;
        assert.equal(kindAt(b, i + 1), UPDATE_AFTER);
        assert.equal(b.records[i].region, b.records[i + 1].region);
      }
    }
    assert.deepEqual(fold(log), expectedTable(records));
  });

  test('restored from a checkpoint mid-stream, it goes on as if it had not stopped', () => {
    const records = input(23);
    const whole = step();
    open(whole);
    const uninterrupted = changes(run(records, 7, whole));

    const cut = 2345;
    const first = step();
    open(first);
    const before = changes(run(records.slice(0, cut), 7, first));
    const saved = roundTrip(first.snapshot!());
    const second = step();
    open(second, saved);
    const after = changes(run(records.slice(cut), 7, second, cut));
    assert.deepEqual([...before, ...after], uninterrupted);
    assert.deepEqual(fold([...before, ...after]), expectedTable(records));
  });

  test('state of another shape is refused on restore', () => {
    const op = step();
    open(op);
    run(input().slice(0, 10), 10, op);
    const saved = roundTrip(op.snapshot!());
    const other = step({ n: 'count(*)' });
    assert.throws(
      () => open(other, saved),
      (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_INCOMPATIBLE',
    );
    const windowed = aggregateStep.create(
      {
        key: ['region'],
        window: { type: 'tumbling', size: '1s' },
        time: 'event',
        fields: FIELDS,
        allowed_lateness: '0s',
        on_late: 'late_output',
      },
      { id: 'totals', baseDir: '.', clock: new ManualClock(0), functions: new Map() },
    );
    assert.throws(
      () => open(windowed, saved),
      (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_INCOMPATIBLE',
    );
  });

  test('keyed input: results carry the key in a `key` field and in batch keys', () => {
    const op = step({ n: 'count(*)' }, null);
    open(op);
    const out = new CollectingOutput();
    op.processBatch({ records: [{ a: 1 }, { a: 2 }], times: [5, 6], keys: ['x', 'x'] }, out);
    assert.deepEqual(changes(out), [
      [{ key: 'x', n: 1 }, INSERT, 5],
      [{ key: 'x', n: 1 }, UPDATE_BEFORE, 6],
      [{ key: 'x', n: 2 }, UPDATE_AFTER, 6],
    ]);
    assert.deepEqual(out.batches[0].keys, ['x', 'x', 'x']);
  });

  test('without key: one global result', () => {
    const op = step({ n: 'count(*)' }, null);
    open(op);
    const out = run([{}, {}], 2, op);
    assert.deepEqual(
      changes(out).map(([r, k]) => [r, k]),
      [
        [{ n: 1 }, INSERT],
        [{ n: 1 }, UPDATE_BEFORE],
        [{ n: 2 }, UPDATE_AFTER],
      ],
    );
  });

  test('window bounds cannot be read without a window', () => {
    assert.throws(
      () => step({ w: 'window_end - count(*)' }),
      (err: unknown) =>
        err instanceof SluiceError && err.code === 'PLAN_TYPE_ERROR' && /has no window/.test(err.message),
    );
  });
});

describe('aggregate without a window in a plan', () => {
  const registry = new Registry([builtins, testing]);
  const memory = sourceOf(memorySource);
  const collect = sinkOf(memorySink);

  test('the TypeScript API: keyBy().aggregate() without window, refused by an append-only sink', () => {
    const { plan } = pipeline('totals')
      .from('orders', memory<{ region: string; amount: number }>({ channel: 'c' }))
      .keyBy('by-region', (o) => o.region)
      .aggregate('totals', { n: count(), total: sum('amount') })
      .to('out', collect({ store: 's' }))
      .build();
    const totals = plan.steps[1];
    assert.deepEqual([totals.id, totals.type, totals.inputs], ['totals', 'aggregate', ['by-region']]);
    assert.deepEqual(Object.keys(totals.config as object), ['fields']);
    assert.throws(
      () => resolvePlan(plan, registry),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.code === 'PLAN_CHANGELOG_MISMATCH' &&
        err.step === 'out' &&
        /because step 'totals' \(aggregate\) emits one: an aggregate without a window updates/.test(
          err.message,
        ),
    );
  });

  test('the TypeScript API runs it into a memory sink that takes changelogs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-updating-'));
    try {
      const channel = memoryChannel('updating-api');
      const store = memorySinkStore('updating-api-out');
      const { plan, functions } = pipeline('updating-api', { checkpoint: { dir } })
        .from('orders', memory<{ region: string; amount: number }>({ channel: 'updating-api' }))
        .keyBy('by-region', (o) => o.region)
        .aggregate('totals', { n: count(), total: sum('amount') })
        .to('out', collect({ store: 'updating-api-out', changelog: true }))
        .build();
      channel.push(
        'p0',
        { region: 'eu', amount: 5 },
        { region: 'us', amount: 1 },
        { region: 'eu', amount: 2 },
      );
      channel.end();
      const job = await Job.create(plan, { registry, functions });
      assert.equal((await job.run()).status, 'completed');
      assert.deepEqual(
        store.written.map((w) => [w.record, w.kind]),
        [
          [{ key: 'eu', n: 1, total: 5 }, INSERT],
          [{ key: 'us', n: 1, total: 1 }, INSERT],
          [{ key: 'eu', n: 1, total: 5 }, UPDATE_BEFORE],
          [{ key: 'eu', n: 2, total: 7 }, UPDATE_AFTER],
        ],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
