/**
 * The temporal join: orders joined with the currency rate valid at each order's time, from one
 * source split in two (the shape of Flink's versioned-table example), checked against an
 * independent computation for inner and left joins with batch sizes 1, 7 and 1024; an updating
 * right input; deletions ending a version; bounded state; and a crash and restore. Alone, on
 * bids and auctions: its keyed state checkpointed by key group, restored whole or split between
 * two workers, and a checkpoint of snapshot version 1 restored.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import { DELETE, INSERT, type Row } from '../record.ts';
import {
  assertSameMultiset,
  Harness,
  planFrom,
  runCrashedAndRestored,
  watermarksBefore,
} from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock, memoryChannel, memorySinkStore, seededRandom } from '../testing/index.ts';
import { compileJoinCondition, PairOutput } from './join-condition.ts';
import {
  changelogInputs,
  checkOlderFormat,
  checkRestore,
  joinInputsOf,
  type RestoreCase,
} from './join-restore-test-support.ts';
import { BOUND, bidsAndAuctions, joinOutputsOf, nextName, registry } from './join-test-support.ts';
import { withExpressions } from './step-test-support.ts';
import { TemporalJoinOperator } from './temporal-join.ts';

const h = new Harness();
afterEach(() => h.stopAll());

const CURRENCIES = ['EUR', 'GBP', 'JPY', 'CHF'];

/** Rates (one in six records) and orders over a few minutes: some out of order, some late. */
function ordersAndRates(seed: number, n = 900): Row[] {
  const next = seededRandom(seed);
  const out: Row[] = [];
  let t = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    t += Math.floor(next() * 500);
    const roll = next();
    const ts = roll < 0.04 ? t - 20_000 : roll < 0.3 ? t - Math.floor(next() * 1_500) : t;
    const currency = CURRENCIES[Math.floor(next() * CURRENCIES.length)];
    out.push(
      next() < 1 / 6
        ? { type: 'rate', currency, rate: Math.round(next() * 1000) / 100, ts }
        : { type: 'order', id: i, currency: next() < 0.03 ? null : currency, amount: i, ts },
    );
  }
  return out;
}

function pipeline(name: string, kind: 'inner' | 'left', batchSize: number): string {
  return `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batchSize} }
sources:
  events: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: ${BOUND}ms } }
steps:
  - { id: orders, type: filter, input: events, where: "type = 'order'" }
  - { id: rates, type: filter, input: events, where: "type = 'rate'" }
  - id: joined
    type: join
    input: [orders, rates]
    on: orders.currency = rates.currency
    temporal: true
    kind: ${kind}
    fields: { id: orders.id, order_ts: orders.ts, rate: rates.rate, rate_ts: rates.ts }
sinks:
  out: { type: memory, store: ${name}-out, input: joined }
late_output: { type: memory, store: ${name}-late }
dead_letter: { type: memory, store: ${name}-dead }
`;
}

async function run(kind: 'inner' | 'left', records: readonly Row[], batchSize: number) {
  const name = nextName('tjoin');
  const channel = memoryChannel(name, ['p0']);
  const job = await Job.create(planFrom(pipeline(name, kind, batchSize), await h.dir(), registry), {
    registry,
    clock: new ManualClock(0),
    tickInterval: 5,
  });
  const running = h.run(job);
  channel.push('p0', ...records);
  channel.end();
  assert.equal((await running).status, 'completed');
  return joinOutputsOf(name);
}

/** The join computed apart from the engine: per order, the latest rate in time at or before it. */
function expected(records: readonly Row[], kind: 'inner' | 'left'): { out: Row[]; late: Row[] } {
  const wms = watermarksBefore(records, BOUND);
  const late: Row[] = [];
  const rates: Row[] = [];
  const orders: Row[] = [];
  records.forEach((r, i) => {
    if ((r.ts as number) <= wms[i]) late.push(r);
    else (r.type === 'rate' ? rates : orders).push(r);
  });
  const out: Row[] = [];
  for (const o of orders) {
    let best: Row | undefined;
    for (const r of rates) {
      if (o.currency === null || r.currency !== o.currency || (r.ts as number) > (o.ts as number)) continue;
      if (best === undefined || (r.ts as number) >= (best.ts as number)) best = r;
    }
    if (best !== undefined) out.push({ id: o.id, order_ts: o.ts, rate: best.rate, rate_ts: best.ts });
    else if (kind === 'left') out.push({ id: o.id, order_ts: o.ts, rate: null, rate_ts: null });
  }
  return { out, late };
}

describe('temporal join', () => {
  const records = ordersAndRates(5);
  for (const kind of ['inner', 'left'] as const) {
    test(`${kind}: matches an independent computation, the same with batch sizes 1, 7 and 1024`, async () => {
      const want = expected(records, kind);
      assert.ok(want.out.length > 500, `results (${want.out.length})`);
      assert.ok(want.late.length > 10, `late records (${want.late.length})`);
      const one = await run(kind, records, 1);
      assertSameMultiset(one.out, want.out, 'results');
      assert.deepEqual(one.late, want.late, 'late records');
      for (const size of [7, 1024]) {
        const other = await run(kind, records, size);
        // Results come in (time, arrival) order as the watermark passes them.
        assert.deepEqual(other.out, one.out, `results, batch size ${size}`);
        // Late records and dead letters of the two branches may interleave differently (see ARCHITECTURE, Diamonds).
        assertSameMultiset(other.late, one.late, `late records, batch size ${size}`);
      }
    });
  }

  test('a run crashed mid-join and restored from its checkpoint gives the same results', async () => {
    const name = nextName('tjoin');
    const channel = memoryChannel(name, ['p0']);
    const plan = planFrom(pipeline(name, 'left', 64), await h.dir(), registry);
    const result = await runCrashedAndRestored(h, registry, plan, channel, records, {
      checkpointAt: 400,
      crashAt: 650,
    });
    assert.equal(result.status, 'completed');
    assertSameMultiset(memorySinkStore(`${name}-out`).committed, expected(records, 'left').out);
  });

  test('an updating right input: the latest value of an aggregate per key is the version', async () => {
    const name = nextName('tjoin');
    const channel = memoryChannel(name, ['p0']);
    const plan = planFrom(
      `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  events: { type: memory, channel: ${name}, event_time: { field: ts } }
steps:
  - { id: orders, type: filter, input: events, where: "type = 'order'" }
  - { id: ticks, type: filter, input: events, where: "type = 'tick'" }
  - { id: highs, type: aggregate, input: ticks, key: [currency], fields: { high: max(rate) } }
  - id: joined
    type: join
    input: [orders, highs]
    on: orders.currency = highs.currency
    temporal: true
    fields: { id: orders.id, high: highs.high }
sinks:
  out: { type: memory, store: ${name}-out, input: joined }
`,
      await h.dir(),
      registry,
    );
    const running = h.run(await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 }));
    channel.push(
      'p0',
      { type: 'tick', currency: 'EUR', rate: 1.1, ts: 1_000 },
      { type: 'order', id: 1, currency: 'EUR', ts: 1_500 },
      { type: 'tick', currency: 'EUR', rate: 1.3, ts: 2_000 },
      { type: 'tick', currency: 'EUR', rate: 1.2, ts: 3_000 },
      { type: 'order', id: 2, currency: 'EUR', ts: 3_500 },
      { type: 'order', id: 3, currency: 'GBP', ts: 3_600 },
    );
    channel.end();
    assert.equal((await running).status, 'completed');
    assert.deepEqual(memorySinkStore(`${name}-out`).committed, [
      { id: 1, high: 1.1 },
      { id: 2, high: 1.3 },
    ]);
  });
});

describe('temporal join state', () => {
  const step = withExpressions(
    { id: 'j', baseDir: '.', clock: new ManualClock(0), functions: new Map() },
    { on: 'o.k = r.k' },
  );
  const pairs = new PairOutput(
    compileJoinCondition('o.k = r.k', { left: 'o', right: 'r' }, step),
    undefined,
    step,
  );
  const open = (op: TemporalJoinOperator) =>
    op.open({
      stepId: 'j',
      restored: undefined,
      clock: new ManualClock(0),
      watermark: () => Number.NEGATIVE_INFINITY,
    });
  const collect = () => {
    const rows: Row[] = [];
    return {
      rows,
      out: {
        emit: (b: { records: Row[] }) => rows.push(...b.records),
        deadLetter() {},
        late() {},
        filtered() {},
      },
    };
  };

  test('a deletion ends a version: a left record after it finds no row', () => {
    const op = new TemporalJoinOperator({ stepId: 'j', pairs, keepUnmatched: true });
    open(op);
    const { rows, out } = collect();
    op.processBatch(
      {
        records: [
          { k: 'a', v: 1 },
          { k: 'a', v: 1 },
        ],
        times: [10, 20],
        kinds: [INSERT, DELETE],
      },
      out,
      1,
    );
    op.processBatch(
      {
        records: [
          { k: 'a', n: 1 },
          { k: 'a', n: 2 },
        ],
        times: [15, 25],
      },
      out,
      0,
    );
    op.onWatermark(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(rows, [
      { o: { k: 'a', n: 1 }, r: { k: 'a', v: 1 } },
      { o: { k: 'a', n: 2 }, r: null },
    ]);
  });

  test('keeps the versions newer than the watermark and one more per key, over a long input', () => {
    const op = new TemporalJoinOperator({ stepId: 'j', pairs, keepUnmatched: false });
    open(op);
    const { out } = collect();
    let most = 0;
    for (let t = 0; t < 100_000; t += 10) {
      const right = (t / 10) % 4 === 0;
      op.processBatch({ records: [{ k: `c${t % 7}`, t }], times: [t] }, out, right ? 1 : 0);
      op.onWatermark(t - 100, out);
      const { waiting, versions } = op.stateSize;
      most = Math.max(most, waiting + versions);
    }
    assert.ok(most <= 40, `at most ${most} records kept`);
  });
});

describe('temporal join keyed state', () => {
  const cases: [string, RestoreCase][] = [
    [
      'left',
      { options: { kind: 'left', temporal: true }, inputs: joinInputsOf(bidsAndAuctions(13)), at: 450 },
    ],
    [
      'inner, deletes ending versions (and refused on the left)',
      { options: { kind: 'inner', temporal: true }, inputs: changelogInputs(13, 900), at: 450 },
    ],
  ];
  for (const [name, c] of cases) {
    test(`${name}: a checkpoint restored into one store, or split by key group between two, gives the same results, batch sizes 1, 7 and 1024`, () => {
      const runs = [1, 7, 1024].map((size) => checkRestore(c, size));
      assert.ok(runs[0].after.out.length > 150, `results after the checkpoint (${runs[0].after.out.length})`);
      assert.ok(runs[0].after.lateRecords.length > 5, 'late records after the checkpoint');
      for (const run of runs.slice(1)) {
        assert.deepEqual(run.whole.out, runs[0].whole.out, 'the same results whatever the batch size');
        assert.deepEqual(run.whole.lateRecords, runs[0].whole.lateRecords);
        assert.deepEqual(run.whole.dead, runs[0].whole.dead);
      }
    });
  }

  test('restores a checkpoint of snapshot version 1 (all waiting records and versions) and goes on as before', () => {
    checkOlderFormat(
      'temporal',
      readFileSync(new URL('./testdata/temporal-join-v1.snapshot', import.meta.url)),
    );
  });
});
