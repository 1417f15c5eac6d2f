/**
 * The window join, run as a pipeline on the bids-and-auctions stream, checked against an
 * independent computation — which record lands in which window, which is late, which pairs each
 * window makes — for tumbling, hopping and cumulative windows and every join kind, with batch
 * sizes 1, 7 and 1024; across a crash and restore; with state bounded over a long input.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import type { Row } from '../record.ts';
import {
  assertSameMultiset,
  Harness,
  planFrom,
  runCrashedAndRestored,
  watermarksBefore,
} from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock, memoryChannel } from '../testing/index.ts';
import type { WindowConfig } from './aggregate-step.ts';
import type { JoinKind } from './interval-join.ts';
import { compileJoinCondition, PairOutput } from './join-condition.ts';
import {
  checkOlderFormat,
  checkRestore,
  joinInputsOf,
  type RestoreCase,
} from './join-restore-test-support.ts';
import {
  BOUND,
  bidsAndAuctions,
  joinOutputsOf,
  joinPipeline,
  keyFails,
  nextName,
  registry,
  runJoin,
} from './join-test-support.ts';
import { withExpressions } from './step-test-support.ts';
import { WindowJoinOperator } from './window-join.ts';

const h = new Harness();
afterEach(() => h.stopAll());

const FIELDS =
  'fields: { price: bids.price, auction: bids.auction, seller: auctions.seller, start: window_start, end: window_end }';

/** The windows of a time, as the kinds define them. */
type Windows = (t: number) => [number, number][];

const windowCases: { name: string; yaml: string; windows: Windows }[] = [
  {
    name: 'tumbling',
    yaml: '{ type: tumbling, size: 10s }',
    windows: (t) => {
      const s = t - (t % 10_000);
      return [[s, s + 10_000]];
    },
  },
  {
    name: 'hopping',
    yaml: '{ type: hopping, size: 10s, slide: 5s }',
    windows: (t) => {
      const last = t - (t % 5_000);
      return [
        [last - 5_000, last + 5_000],
        [last, last + 10_000],
      ];
    },
  },
  {
    name: 'cumulative',
    yaml: '{ type: cumulative, size: 20s, step: 5s }',
    windows: (t) => {
      const start = t - (t % 20_000);
      const out: [number, number][] = [];
      for (let end = start + 5_000; end <= start + 20_000; end += 5_000) if (t < end) out.push([start, end]);
      return out;
    },
  },
];

/** The window join computed apart from the engine. */
function expected(records: readonly Row[], kind: JoinKind, windows: Windows): { out: Row[]; late: Row[] } {
  const wms = watermarksBefore(records, BOUND);
  const late: Row[] = [];
  const byWindow = new Map<string, { start: number; end: number; bids: Row[]; auctions: Row[] }>();
  records.forEach((r, i) => {
    if (keyFails(r)) return;
    const open = windows(r.ts as number).filter(([, end]) => end - 1 > wms[i]);
    if (open.length === 0) late.push(r);
    for (const [start, end] of open) {
      const id = `${start}/${end}`;
      let w = byWindow.get(id);
      if (w === undefined) {
        w = { start, end, bids: [], auctions: [] };
        byWindow.set(id, w);
      }
      (r.type === 'bid' ? w.bids : w.auctions).push(r);
    }
  });
  const out: Row[] = [];
  for (const w of byWindow.values()) {
    const row = (b: Row | null, a: Row | null): Row => ({
      price: b?.price ?? null,
      auction: b?.auction ?? null,
      seller: a?.seller ?? null,
      start: w.start,
      end: w.end,
    });
    const matched = new Set<Row>();
    for (const b of w.bids) {
      let any = false;
      for (const a of w.auctions) {
        if (b.auction === null || b.auction !== a.id) continue;
        out.push(row(b, a));
        any = true;
        matched.add(a);
      }
      if (!any && (kind === 'left' || kind === 'full')) out.push(row(b, null));
    }
    if (kind === 'right' || kind === 'full')
      for (const a of w.auctions) if (!matched.has(a)) out.push(row(null, a));
  }
  return { out, late };
}

describe('window join', () => {
  const records = bidsAndAuctions(11);
  for (const c of windowCases) {
    for (const kind of ['inner', 'left', 'right', 'full'] as const) {
      test(`${c.name}, ${kind}: matches an independent computation, the same with batch sizes 1, 7 and 1024`, async () => {
        const join = `kind: ${kind}\nwindow: ${c.yaml}\n${FIELDS}`;
        const want = expected(records, kind, c.windows);
        assert.ok(want.out.length > 300, `pairs (${want.out.length})`);
        assert.ok(want.late.length > 10, `late records (${want.late.length})`);
        const one = await runJoin(h, join, records, 1);
        assertSameMultiset(one.out, want.out, 'pairs');
        assert.deepEqual(one.late, want.late, 'late records');
        assert.ok(one.dead.length > 3, `dead letters (${one.dead.length})`);
        for (const size of [7, 1024]) {
          const other = await runJoin(h, join, records, size);
          // Windows fire in end order, each in one order: the results come in the same order.
          assert.deepEqual(other.out, one.out, `pairs, batch size ${size}`);
          // Late records and dead letters of the two branches may interleave differently (see ARCHITECTURE, Diamonds).
          assertSameMultiset(other.late, one.late, `late records, batch size ${size}`);
          assertSameMultiset(other.dead, one.dead, `dead letters, batch size ${size}`);
        }
      });
    }
  }

  test('without fields, a result is the pair with the window bounds', async () => {
    const got = await runJoin(
      h,
      'window: { type: tumbling, size: 10s }',
      [
        { type: 'bid', auction: 1, price: 5, ts: 1_000 },
        { type: 'auction', id: 1, seller: 'ann', ts: 2_000 },
      ],
      10,
    );
    assert.deepEqual(got.out, [
      {
        bids: { type: 'bid', auction: 1, price: 5, ts: 1_000 },
        auctions: { type: 'auction', id: 1, seller: 'ann', ts: 2_000 },
        window_start: 0,
        window_end: 10_000,
      },
    ]);
  });

  test('a run crashed mid-window and restored from its checkpoint gives the same pairs', async () => {
    const name = nextName('wjoin');
    const channel = memoryChannel(name, ['p0']);
    const join = `kind: full\nwindow: { type: hopping, size: 10s, slide: 5s }\n${FIELDS}`;
    const plan = planFrom(joinPipeline(name, join, 64), await h.dir(), registry);
    const result = await runCrashedAndRestored(h, registry, plan, channel, records, {
      checkpointAt: 400,
      crashAt: 600,
    });
    assert.equal(result.status, 'completed');
    const want = expected(records, 'full', windowCases[1].windows);
    assertSameMultiset(joinOutputsOf(name).out, want.out, 'pairs after the restore');
  });

  test('refuses session windows', async () => {
    const plan = planFrom(
      joinPipeline('wjoin-session', 'window: { type: session, gap: 5s }', 10),
      await h.dir(),
      registry,
    );
    await assert.rejects(Job.validate(plan, { registry }), /session windows merge/);
  });

  test('keeps only the open windows’ records over a long input', () => {
    const step = withExpressions(
      { id: 'j', baseDir: '.', clock: new ManualClock(0), functions: new Map() },
      { on: 'l.k = r.k' },
    );
    const pairs = new PairOutput(
      compileJoinCondition('l.k = r.k', { left: 'l', right: 'r' }, step),
      undefined,
      step,
    );
    const op = new WindowJoinOperator({
      stepId: 'j',
      pairs,
      kind: 'full',
      window: { type: 'tumbling', size: 1_000 },
    });
    op.open({
      stepId: 'j',
      restored: undefined,
      clock: new ManualClock(0),
      watermark: () => Number.NEGATIVE_INFINITY,
    });
    const discard = { emit() {}, deadLetter() {}, late() {}, filtered() {} };
    let most = 0;
    for (let t = 0; t < 200_000; t += 10) {
      op.processBatch({ records: [{ k: t % 50 }], times: [t] }, discard, (t / 10) % 3 === 0 ? 1 : 0);
      op.onWatermark(t - 1, discard);
      most = Math.max(most, op.stateSize);
    }
    assert.ok(most <= 101, `at most ${most} records kept`);
    op.onWatermark(Number.POSITIVE_INFINITY, discard);
    assert.equal(op.stateSize, 0);
  });
});

describe('window join keyed state', () => {
  const records = bidsAndAuctions(11);
  const windowConfigs: { [name: string]: WindowConfig } = {
    tumbling: { type: 'tumbling', size: '10s' },
    hopping: { type: 'hopping', size: '10s', slide: '5s' },
    cumulative: { type: 'cumulative', size: '20s', step: '5s' },
  };
  for (const c of windowCases) {
    test(`${c.name}: a checkpoint restored into one store, or split by key group between two, gives the same results, batch sizes 1, 7 and 1024`, () => {
      const restore: RestoreCase = {
        options: { kind: 'full', window: windowConfigs[c.name] },
        inputs: joinInputsOf(records),
        at: 450,
      };
      const runs = [1, 7, 1024].map((size) => checkRestore(restore, size));
      assert.ok(runs[0].after.out.length > 150, `results after the checkpoint (${runs[0].after.out.length})`);
      assert.ok(runs[0].after.lateRecords.length > 5, 'late records after the checkpoint');
      for (const run of runs.slice(1)) {
        assert.deepEqual(run.whole.out, runs[0].whole.out, 'the same results whatever the batch size');
        assert.deepEqual(run.whole.lateRecords, runs[0].whole.lateRecords);
        assert.deepEqual(run.whole.dead, runs[0].whole.dead);
      }
    });
  }

  test('restores a checkpoint of snapshot version 1 (the open windows with all their rows) and goes on as before', () => {
    checkOlderFormat('window', readFileSync(new URL('./testdata/window-join-v1.snapshot', import.meta.url)));
  });
});
