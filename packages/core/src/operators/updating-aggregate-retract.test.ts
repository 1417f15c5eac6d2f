/**
 * The `aggregate` step without a window over a retract stream, with min and max: a random
 * changelog of inserts, update pairs and deletes folds into the table a plain loop computes over
 * the rows left, whatever the batch size, and across a checkpoint taken mid-stream (also through
 * the runtime’s keyed state, resumed whole or split by key group).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Operator } from '../operator.ts';
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
import { seededRandom } from '../testing/random.ts';
import { ManualClock } from '../time.ts';
import { CollectingOutput, roundTrip } from '../window/test-support.ts';
import { aggregateStep } from './aggregate-step.ts';
import { assertRestores, type KeyedScenario } from './keyed-restore-test-support.ts';
import { createStep } from './step-test-support.ts';

const FIELDS = {
  n: 'count(*)',
  total: 'sum(amount)',
  lo: 'min(amount)',
  hi: 'max(amount)',
  spread: 'max(amount) - min(amount)',
  first_tag: 'min(tag)',
};

function step(): Operator {
  const op = createStep(
    aggregateStep,
    { key: ['region'], time: 'event', fields: FIELDS, allowed_lateness: '0s', on_late: 'late_output' },
    {
      id: 'extremes',
      baseDir: '.',
      clock: new ManualClock(0),
      functions: new Map(),
      inputModes: ['retract'],
    },
  );
  return op;
}

function open(op: Operator, restored?: unknown): Operator {
  op.open?.({
    stepId: 'extremes',
    restored,
    clock: new ManualClock(0),
    watermark: () => Number.NEGATIVE_INFINITY,
  });
  return op;
}

type Change = [Row, RowKind];

/**
 * A random changelog over 9 regions: inserts of new rows, update pairs (the old row, then the
 * row with a new amount, tag or region) and deletes of live rows. Amounts are small integers
 * (many repeats, so extremes are often held more than once) or NULL.
 */
function changelog(seed: number, length: number): Change[] {
  const random = seededRandom(seed);
  const live = new Map<number, Row>();
  const out: Change[] = [];
  const fresh = (id: number): Row => ({
    id,
    region: `r${Math.floor(random() * 9)}`,
    amount: random() < 0.08 ? null : Math.floor(random() * 50) - 10,
    tag: `t${Math.floor(random() * 30)}`,
  });
  let next = 0;
  while (out.length < length) {
    const roll = random();
    const ids = [...live.keys()];
    if (ids.length === 0 || roll < 0.45) {
      const row = fresh(next++);
      live.set(row.id as number, row);
      out.push([row, INSERT]);
    } else {
      const id = ids[Math.floor(random() * ids.length)];
      const old = live.get(id)!;
      if (roll < 0.8) {
        const row = { ...fresh(id), ...(random() < 0.5 ? { region: old.region } : {}) };
        live.set(id, row);
        out.push([old, UPDATE_BEFORE], [row, UPDATE_AFTER]);
      } else {
        live.delete(id);
        out.push([old, DELETE]);
      }
    }
  }
  return out;
}

/** The table a plain loop computes over the rows `log` leaves, one entry per region. */
function expectedTable(log: readonly Change[]): Map<string, number> {
  const live = new Map<unknown, Row>();
  for (const [row, kind] of log) {
    if (kind === INSERT || kind === UPDATE_AFTER) live.set(row.id, row);
    else live.delete(row.id);
  }
  const regions = new Map<string, Row[]>();
  for (const row of live.values()) {
    const rows = regions.get(row.region as string) ?? [];
    rows.push(row);
    regions.set(row.region as string, rows);
  }
  const table = new Map<string, number>();
  for (const [region, rows] of regions) {
    let total: number | null = null;
    let lo: number | null = null;
    let hi: number | null = null;
    let firstTag: string | null = null;
    for (const r of rows) {
      const a = r.amount as number | null;
      if (a !== null) {
        total = (total ?? 0) + a;
        if (lo === null || a < lo) lo = a;
        if (hi === null || a > hi) hi = a;
      }
      const t = r.tag as string;
      if (firstTag === null || t < firstTag) firstTag = t;
    }
    const spread = lo === null || hi === null ? null : hi - lo;
    const result = { region, n: rows.length, total, lo, hi, spread, first_tag: firstTag };
    table.set(JSON.stringify(result), 1);
  }
  return table;
}

/** Folds a retract changelog into the table it describes: each distinct row with its count. */
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

function batches(log: readonly Change[], size: number): Batch[] {
  const out: Batch[] = [];
  for (let s = 0; s < log.length; s += size) {
    const part = log.slice(s, s + size);
    out.push({
      records: part.map(([r]) => r),
      times: part.map((_, k) => 1000 + s + k),
      kinds: part.map(([, k]) => k),
    });
  }
  return out;
}

function run(op: Operator, log: readonly Change[], size: number): Change[] {
  const out = new CollectingOutput();
  for (const b of batches(log, size)) op.processBatch(b, out);
  assert.deepEqual(out.dead, [], 'no dead letters');
  return out.batches.flatMap((b) => b.records.map((r, i): Change => [r, kindAt(b, i)]));
}

describe('aggregate without a window: min and max over a retract stream', () => {
  const log = changelog(11, 6000);

  test('batch sizes 1, 7 and 1024 give the same changelog, which folds into the plain loop’s table', () => {
    const straight = run(open(step()), log, 1);
    for (const size of [7, 1024])
      assert.deepEqual(run(open(step()), log, size), straight, `batch size ${size}`);
    assert.deepEqual(fold(straight), expectedTable(log));
    // Every prefix too: check the table after a few cut points, not only at the end.
    for (const cut of [1, 500, 2999, 4321]) {
      const part = log.slice(0, cut);
      assert.deepEqual(fold(run(open(step()), part, 13)), expectedTable(part), `after ${cut} changes`);
    }
  });

  test('a region whose rows are all deleted is deleted; a region left with NULL amounts has NULL extremes', () => {
    const a = { id: 1, region: 'x', amount: 3, tag: 'b' };
    const b = { id: 2, region: 'x', amount: null, tag: 'a' };
    const input: Change[] = [
      [a, INSERT],
      [b, INSERT],
      [a, DELETE],
      [b, DELETE],
    ];
    const out = run(open(step()), input, 2);
    assert.deepEqual(
      out.map(([r, k]) => [k, r.lo, r.hi, r.first_tag]),
      [
        [INSERT, 3, 3, 'b'],
        [UPDATE_BEFORE, 3, 3, 'b'],
        [UPDATE_AFTER, 3, 3, 'a'],
        [UPDATE_BEFORE, 3, 3, 'a'],
        [UPDATE_AFTER, null, null, 'a'],
        [DELETE, null, null, 'a'],
      ],
    );
  });

  test('the retraction of a row refused for its kind is refused too, and changes nothing', () => {
    const a = { id: 1, region: 'x', amount: 3, tag: 'b' };
    // min(tag) of region x holds strings: a number there is a dead letter, on the way in and out.
    const c = { id: 3, region: 'x', amount: 4, tag: 7 };
    const out = new CollectingOutput();
    const op = open(step());
    for (const b of batches(
      [
        [a, INSERT],
        [c, INSERT],
        [c, DELETE],
      ],
      1,
    ))
      op.processBatch(b, out);
    assert.deepEqual(
      out.dead.map((d) => [d.record, d.error.code]),
      [
        [c, 'EXPR_EVAL'],
        [c, 'EXPR_EVAL'],
      ],
    );
    assert.match(out.dead[1].error.message, /min of this group holds strings, and the number 7/);
    assert.deepEqual(
      out.emitted.map((e) => [e.kind, e.record]),
      [[INSERT, { region: 'x', n: 1, total: 3, lo: 3, hi: 3, spread: 0, first_tag: 'b' }]],
    );
  });

  test('on the runtime’s keyed state, restored whole or split by key group, it goes on as if it had not stopped', () => {
    const part = log.slice(0, 3000);
    const s: KeyedScenario = {
      make: step,
      records: part.map(([r]) => r),
      times: part.map((_, i) => 1000 + i),
      kinds: part.map(([, k]) => k),
      keyOf: (r) => r.region,
    };
    const straight = assertRestores(s, [1001, 2222]);
    assert.deepEqual(fold(straight.emitted.map((e): Change => [e.record, e.kind])), expectedTable(part));
  });

  test('restored from a checkpoint mid-stream, it goes on as if it had not stopped', () => {
    const straight = run(open(step()), log, 7);
    for (const cut of [1, 2500, 5999]) {
      const first = open(step());
      const before = run(first, log.slice(0, cut), 7);
      const saved = roundTrip(first.snapshot!());
      const after = run(open(step(), saved), log.slice(cut), 7);
      assert.deepEqual([...before, ...after], straight, `checkpoint after ${cut} changes`);
    }
  });
});
