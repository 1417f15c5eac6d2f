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
import { agg, CollectingOutput, countStar, roundTrip } from '../window/test-support.ts';
import { aggregateStep } from './aggregate-step.ts';
import { assertRestores, type KeyedScenario, resume, runStraight } from './keyed-restore-test-support.ts';
import { createStep } from './step-test-support.ts';
import { createUpdatingAggregate } from './updating-aggregate.ts';

const FIELDS = {
  n: 'count(*)',
  total: 'sum(amount)',
  hi: 'max(amount)',
  spread: 'max(amount) - min(amount)',
};

function step(fields: { [name: string]: string } = FIELDS, key: string[] | null = ['region']): Operator {
  return createStep(
    aggregateStep,
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
    const windowed = createStep(
      aggregateStep,
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

  test('key fields regroup an input keyed by an upstream key_by', () => {
    const op = step({ n: 'count(*)' });
    open(op);
    const out = new CollectingOutput();
    const records = [
      { store: 's1', region: 'eu' },
      { store: 's2', region: 'eu' },
    ];
    op.processBatch({ records, times: [5, 6], keys: ['s1', 's2'] }, out);
    assert.deepEqual(changes(out), [
      [{ region: 'eu', n: 1 }, INSERT, 5],
      [{ region: 'eu', n: 1 }, UPDATE_BEFORE, 6],
      [{ region: 'eu', n: 2 }, UPDATE_AFTER, 6],
    ]);
    assert.equal(out.batches[0].keys, undefined, 'no longer keyed by store');
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

  test('the TypeScript API passes a ttl, which the plan validates', () => {
    const build = (ttl: string) =>
      pipeline('totals')
        .from('orders', memory<{ region: string; amount: number }>({ channel: 'c' }))
        .keyBy('by-region', (o) => o.region)
        .aggregate('totals', { n: count() }, { ttl })
        .to('out', collect({ store: 's', changelog: true }))
        .build().plan;
    const plan = build('1h');
    assert.deepEqual(plan.steps[1].config, { fields: { n: 'count(*)' }, ttl: '1h' });
    resolvePlan(plan, registry);
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

test('window options without a window are refused, not ignored', () => {
  const create = (extra: { time?: 'processing'; allowed_lateness?: string }) =>
    createStep(
      aggregateStep,
      { time: 'event', fields: { n: 'count(*)' }, allowed_lateness: '0s', on_late: 'late_output', ...extra },
      { id: 'totals', baseDir: '.', clock: new ManualClock(0), functions: new Map() },
    );
  for (const [extra, path] of [
    [{ time: 'processing' }, 'time'],
    [{ allowed_lateness: '5s' }, 'allowed_lateness'],
  ] as const) {
    assert.throws(
      () => create(extra),
      (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === path,
    );
  }
});

describe('aggregate without a window, with a state time-to-live', () => {
  /** Records per block of the clock: a multiple of 7 and 1024, so batches of 1, 7 and 1024 meet the same clock. */
  const BLOCK = 7 * 1024;

  function ttlStep(ttl: string, fields: { [name: string]: string } = FIELDS): Operator {
    return createStep(
      aggregateStep,
      { key: ['region'], time: 'event', fields, allowed_lateness: '0s', on_late: 'late_output', ttl },
      { id: 'totals', baseDir: '.', clock: new ManualClock(0), functions: new Map() },
    );
  }

  function openAt(op: Operator, clock: ManualClock, restored?: unknown): void {
    op.open?.({ stepId: 'totals', restored, clock, watermark: () => Number.NEGATIVE_INFINITY });
  }

  /** The keys' state an operator opened without the runtime's keyed state keeps in its snapshot. */
  const liveKeys = (op: Operator) =>
    new Map((op.snapshot!() as { keyed: Map<string, Map<unknown, unknown>> }).keyed.get('keys'));

  /** Processing time of the batch starting at record `s`: one second per block of records. */
  const clockAt = (s: number) => 1_000_000 + Math.floor(s / BLOCK) * 1000;

  /** Runs `records` (from input position `from`) in batches of `size`, the clock moving per block, a tick before each batch. */
  function runTimed(
    op: Operator,
    records: Row[],
    size: number,
    clock: ManualClock,
    from = 0,
  ): CollectingOutput {
    const out = new CollectingOutput();
    batches(records, size, from).forEach((b, j) => {
      clock.set(clockAt(from + j * size));
      op.onProcessingTime?.(clock.now(), out);
      op.processBatch(b, out);
    });
    return out;
  }

  /** Input with regions that go quiet: region r<n> is silent in some blocks, so the ttl forgets it. */
  function quietInput(seed: number, count = 40_000): Row[] {
    const random = seededRandom(seed);
    return Array.from({ length: count }, (_, i) => {
      const block = Math.floor(i / BLOCK);
      // Regions 0–9 always; regions 10–19 only in even blocks.
      const region =
        random() < 0.5 || block % 2 === 1 ? Math.floor(random() * 10) : 10 + Math.floor(random() * 10);
      const roll = random();
      const amount = roll < 0.05 ? null : roll < 0.07 ? 'x' : Math.floor(random() * 2000) - 500;
      return { id: i, region: `r${region}`, amount };
    });
  }

  /**
   * The table a folded changelog gives, computed apart: per region, a new segment whenever the
   * region was last written at least `ttl` before the clock of the record; each segment's final
   * result is one row (the forgotten results are never retracted).
   */
  function expectedWithTtl(records: readonly Row[], ttl: number): Map<string, number> {
    const segments: Row[][] = [];
    const current = new Map<string, { rows: Row[]; written: number }>();
    records.forEach((r, i) => {
      if (typeof r.amount === 'string') return;
      const now = clockAt(i - (i % BLOCK));
      const region = r.region as string;
      let s = current.get(region);
      if (s === undefined || s.written + ttl <= now) {
        s = { rows: [], written: now };
        segments.push(s.rows);
        current.set(region, s);
      }
      s.rows.push(r);
      s.written = now;
    });
    const table = new Map<string, number>();
    for (const rows of segments) {
      for (const [row, n] of expectedTable(rows)) table.set(row, (table.get(row) ?? 0) + n);
    }
    return table;
  }

  test('a key not written for the ttl is forgotten; its next record starts afresh with an insert', () => {
    const clock = new ManualClock(0);
    const op = ttlStep('10s', { n: 'count(*)' });
    openAt(op, clock);
    const out = new CollectingOutput();
    op.processBatch({ records: [{ region: 'a' }, { region: 'b' }], times: [1, 2] }, out);
    clock.set(6000);
    op.processBatch({ records: [{ region: 'b' }], times: [3] }, out);
    clock.set(9999);
    op.onProcessingTime?.(clock.now(), out);
    op.processBatch({ records: [{ region: 'a' }], times: [4] }, out);
    clock.set(19_999);
    op.onProcessingTime?.(clock.now(), out);
    assert.equal(liveKeys(op).size, 0, 'both keys forgotten');
    op.processBatch({ records: [{ region: 'a' }, { region: 'a' }], times: [5, 6] }, out);
    assert.deepEqual(out.changes(), [
      ['+I', { region: 'a', n: 1 }],
      ['+I', { region: 'b', n: 1 }],
      ['-U', { region: 'b', n: 1 }],
      ['+U', { region: 'b', n: 2 }],
      ['-U', { region: 'a', n: 1 }],
      ['+U', { region: 'a', n: 2 }],
      ['+I', { region: 'a', n: 1 }],
      ['-U', { region: 'a', n: 1 }],
      ['+U', { region: 'a', n: 2 }],
    ]);
  });

  test('batch sizes 1, 7 and 1024 give the same changelog; it folds into an independent computation', () => {
    const records = quietInput(5);
    const runs = [1, 7, 1024].map((size) => {
      const op = ttlStep('1500ms');
      const clock = new ManualClock(0);
      openAt(op, clock);
      const out = runTimed(op, records, size, clock);
      return { log: changes(out), dead: out.dead.map((d) => [d.record.id, d.error.code]) };
    });
    assert.deepEqual(runs[1], runs[0]);
    assert.deepEqual(runs[2], runs[0]);
    const inserts = runs[0].log.filter(([, kind]) => kind === INSERT).length;
    assert.ok(inserts > 20 + 10, `quiet regions start afresh (${inserts} inserts)`);
    assert.deepEqual(fold(runs[0].log), expectedWithTtl(records, 1500));
  });

  test('restored from a checkpoint mid-stream, the ttl bookkeeping goes on as if it had not stopped', () => {
    const records = quietInput(9);
    const clock = new ManualClock(0);
    const whole = ttlStep('1500ms');
    openAt(whole, clock);
    const uninterrupted = changes(runTimed(whole, records, 7, clock));

    const cut = 3 * BLOCK + 7 * 100;
    const first = ttlStep('1500ms');
    const clock2 = new ManualClock(0);
    openAt(first, clock2);
    const before = changes(runTimed(first, records.slice(0, cut), 7, clock2));
    const saved = roundTrip(first.snapshot!());
    const second = ttlStep('1500ms');
    openAt(second, clock2, saved);
    const after = changes(runTimed(second, records.slice(cut), 7, clock2, cut));
    assert.deepEqual([...before, ...after], uninterrupted);
  });

  test('live keys stay flat over an unbounded stream of distinct keys', () => {
    const clock = new ManualClock(0);
    const op = ttlStep('10s', { n: 'count(*)' });
    openAt(op, clock);
    const out = new CollectingOutput();
    const sizes: number[] = [];
    for (let second = 0; second < 300; second++) {
      clock.set(second * 1000);
      op.onProcessingTime?.(clock.now(), out);
      const records = Array.from({ length: 100 }, (_, j) => ({ region: `k${second * 100 + j}` }));
      op.processBatch({ records, times: records.map(() => second) }, out);
      out.batches.length = 0;
      out.emitted.length = 0;
      sizes.push(liveKeys(op).size);
    }
    // 30,000 distinct keys went through; at most the last 10 seconds' worth are alive.
    assert.ok(Math.max(...sizes) <= 1000, `at most 1000 live keys, saw ${Math.max(...sizes)}`);
    assert.deepEqual(new Set(sizes.slice(20)), new Set([1000]));
  });

  test('state of snapshot version 1 (no ttl bookkeeping) is read; its keys live ttl from the restore', () => {
    const plain = step({ n: 'count(*)' });
    open(plain);
    run([{ region: 'a' }, { region: 'b' }], 2, plain);
    const v3 = roundTrip(plain.snapshot!()) as { format: string; shape: string };
    assert.equal(v3.format, 'sluice.updating_aggregate.v3');
    // What version 1 wrote: the keys' state in the operator's snapshot, without `written`.
    const v1 = {
      format: 'sluice.updating_aggregate.v1',
      shape: v3.shape,
      keyedInput: false,
      keys: liveKeys(plain),
    };
    const clock = new ManualClock(50_000);
    const op = ttlStep('10s', { n: 'count(*)' });
    openAt(op, clock, v1);
    const out = new CollectingOutput();
    op.processBatch({ records: [{ region: 'a' }], times: [7] }, out);
    assert.deepEqual(out.changes(), [
      ['-U', { region: 'a', n: 1 }],
      ['+U', { region: 'a', n: 2 }],
    ]);
    clock.set(59_999);
    op.onProcessingTime?.(clock.now(), out);
    op.processBatch({ records: [{ region: 'b' }], times: [8] }, out);
    assert.deepEqual(out.changes(), [
      ['-U', { region: 'b', n: 1 }],
      ['+U', { region: 'b', n: 2 }],
    ]);
    clock.set(69_998);
    op.onProcessingTime?.(clock.now(), out);
    op.processBatch({ records: [{ region: 'a' }, { region: 'b' }], times: [9, 10] }, out);
    assert.deepEqual(out.changes(), [
      ['+I', { region: 'a', n: 1 }],
      ['-U', { region: 'b', n: 2 }],
      ['+U', { region: 'b', n: 3 }],
    ]);
  });

  test('ttl is refused with a window, and must be a positive duration', () => {
    const create = (extra: object) =>
      createStep(
        aggregateStep,
        {
          time: 'event',
          fields: { n: 'count(*)' },
          allowed_lateness: '0s',
          on_late: 'late_output',
          ...extra,
        },
        { id: 'totals', baseDir: '.', clock: new ManualClock(0), functions: new Map() },
      );
    for (const extra of [
      { ttl: '1h', window: { type: 'tumbling', size: '1m' } },
      { ttl: '0s' },
      { ttl: 'soon' },
    ]) {
      assert.throws(
        () => create(extra),
        (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === 'ttl',
      );
    }
  });
});

describe('aggregate without a window on the runtime’s keyed state', () => {
  const BLOCK = 7 * 1024;
  const make = (ttl?: number) => () =>
    createUpdatingAggregate({
      stepId: 'u',
      keyFields: ['k'],
      fields: [countStar('n'), agg('total', 'sum', 'v'), agg('hi', 'max', 'v')],
      ...(ttl !== undefined ? { ttl } : {}),
    });

  /** Group keys of several types (text, numbers, booleans, NULL); some only in even blocks of the clock. */
  function scenario(ttl?: number, count = 3 * BLOCK): KeyedScenario {
    const random = seededRandom(13);
    const kinds = [(n: number) => `r${n}`, (n: number) => n, (n: number) => n % 2 === 0, () => null];
    const records = Array.from({ length: count }, (_, i) => {
      const quiet = Math.floor(i / BLOCK) % 2 === 1;
      const n = random() < 0.5 || quiet ? Math.floor(random() * 10) : 10 + Math.floor(random() * 30);
      const k = kinds[Math.floor(random() * kinds.length)](n);
      return { i, k, v: random() < 0.03 ? 'x' : Math.floor(random() * 100) };
    });
    return {
      make: make(ttl),
      records,
      times: records.map((_, i) => i),
      block: BLOCK,
      clockAt: (i) => 1_000_000 + Math.floor(i / BLOCK) * 1000,
      keyOf: (r) => r.k,
    };
  }

  test('checkpointed mid-stream and restored, whole or split by key group, it goes on as if it had not stopped', () => {
    for (const s of [scenario(undefined, 3000), scenario(1500)]) {
      const straight = assertRestores(s, [s.records.length === 3000 ? 1003 : BLOCK + 7 * 99]);
      assert.ok(straight.dead.length > 0 && straight.emitted.length > 1000);
    }
  });

  test('a snapshot of version 2, which held the keys’ state and times, is restored into the keyed state', () => {
    // What v2 snapshotted after a1 b2 7:3 at 1000 and a4 null:1 at 1500.
    const result = (k: unknown, n: number, total: number) => ({ k, n, total });
    const v2 = {
      format: 'sluice.updating_aggregate.v2',
      shape: '{"keyFields":["k"],"keyFn":false,"fields":[["n","count"],["total","sum"]]}',
      keyedInput: false,
      keys: new Map<unknown, unknown>([
        ['a', { keyValues: ['a'], accumulators: [2, 5], result: result('a', 2, 5) }],
        ['b', { keyValues: ['b'], accumulators: [1, 2], result: result('b', 1, 2) }],
        [7, { keyValues: [7], accumulators: [1, 3], result: result(7, 1, 3) }],
        [null, { keyValues: [null], accumulators: [1, 1], result: result(null, 1, 1) }],
      ]),
      written: new Map<unknown, number>([
        ['b', 1000],
        [7, 1000],
        ['a', 1500],
        [null, 1500],
      ]),
    };
    const rows: [unknown, number][] = [
      ['a', 1],
      ['b', 2],
      [7, 3],
      ['a', 4],
      [null, 1],
      ['b', 5],
      [7, 1],
      ['a', 1],
      [null, 2],
    ];
    const clocks = [1000, 1000, 1000, 1500, 1500, 2200, 2200, 2200, 2200];
    const s: KeyedScenario = {
      make: () =>
        createUpdatingAggregate({
          stepId: 'u',
          keyFields: ['k'],
          fields: [countStar('n'), agg('total', 'sum', 'v')],
          ttl: 1000,
        }),
      records: rows.map(([k, v]) => ({ k, v })),
      times: rows.map(() => 0),
      block: 1,
      clockAt: (i) => clocks[i],
      keyOf: (r) => r.k,
    };
    const straight = runStraight(s, 1);
    const after = resume(s, { operator: v2, keyed: undefined, now: 1500 }, 5, 1);
    // b and 7 were last written at 1000: forgotten at 2000, they start afresh.
    assert.deepEqual(
      after.emitted.map((e) => [e.kind, e.record]),
      [
        [INSERT, result('b', 1, 5)],
        [INSERT, result(7, 1, 1)],
        [UPDATE_BEFORE, result('a', 2, 5)],
        [UPDATE_AFTER, result('a', 3, 6)],
        [UPDATE_BEFORE, result(null, 1, 1)],
        [UPDATE_AFTER, result(null, 2, 3)],
      ],
    );
    assert.deepEqual(after.emitted, straight.emitted.slice(-6));
  });
});
