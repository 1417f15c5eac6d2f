/**
 * The interval join, run as a pipeline: one source of bids and auctions split by two filters and
 * joined again (the Nexmark shape). Checked against an independent computation of the same input
 * — which pairs exist, which records are late — for every join kind and batch sizes 1, 7 and
 * 1024; across a crash and restore; with bounded state over a long input; and its errors. Alone:
 * its keyed state checkpointed by key group, restored whole or split between two workers, and
 * a checkpoint of snapshot version 1 restored.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import type { Row } from '../record.ts';
import {
  assertSameMultiset,
  canonical,
  Harness,
  planFrom,
  runCrashedAndRestored,
  watermarksBefore,
} from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock, memoryChannel } from '../testing/index.ts';
import { IntervalJoinOperator, type JoinKind } from './interval-join.ts';
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

const h = new Harness();
afterEach(() => h.stopAll());

const LOWER = -3_000;
const UPPER = 4_000;

const JOIN = `between: [${LOWER}ms, ${UPPER}ms]
fields: { price: bids.price, auction: bids.auction, seller: auctions.seller, bid_ts: bids.ts, auction_ts: auctions.ts }`;

const run = (kind: JoinKind, records: readonly Row[], batchSize: number) =>
  runJoin(h, `kind: ${kind}\n${JOIN}`, records, batchSize);

/** The join computed apart from the engine: the watermark each record met, then every pair. */
function expected(records: readonly Row[], kind: JoinKind): { out: Row[]; late: Row[] } {
  const wms = watermarksBefore(records, BOUND);
  const late: Row[] = [];
  const bids: Row[] = [];
  const auctions: Row[] = [];
  records.forEach((r, i) => {
    if (keyFails(r)) return;
    if ((r.ts as number) <= wms[i]) late.push(r);
    else (r.type === 'bid' ? bids : auctions).push(r);
  });
  const out: Row[] = [];
  const row = (b: Row | null, a: Row | null): Row => ({
    price: b?.price ?? null,
    auction: b?.auction ?? null,
    seller: a?.seller ?? null,
    bid_ts: b?.ts ?? null,
    auction_ts: a?.ts ?? null,
  });
  const matchedAuctions = new Set<Row>();
  for (const b of bids) {
    let matched = false;
    for (const a of auctions) {
      if (b.auction === null || b.auction !== a.id) continue;
      const d = (a.ts as number) - (b.ts as number);
      if (d < LOWER || d > UPPER) continue;
      out.push(row(b, a));
      matched = true;
      matchedAuctions.add(a);
    }
    if (!matched && (kind === 'left' || kind === 'full')) out.push(row(b, null));
  }
  if (kind === 'right' || kind === 'full')
    for (const a of auctions) if (!matchedAuctions.has(a)) out.push(row(null, a));
  return { out, late };
}

describe('interval join', () => {
  const records = bidsAndAuctions(7);
  for (const kind of ['inner', 'left', 'right', 'full'] as const) {
    test(`${kind}: matches an independent computation, the same with batch sizes 1, 7 and 1024`, async () => {
      const want = expected(records, kind);
      assert.ok(want.out.length > 300, `pairs (${want.out.length})`);
      assert.ok(want.late.length > 10, `late records (${want.late.length})`);
      const one = await run(kind, records, 1);
      assertSameMultiset(one.out, want.out, 'pairs');
      assert.deepEqual(one.late, want.late, 'late records');
      assert.ok(one.dead.length > 3, `dead letters (${one.dead.length})`);
      assert.ok(
        one.dead.every((d) => d.step === 'joined' && String(d.message).startsWith('on: ')),
        'dead letters name the condition',
      );
      for (const size of [7, 1024]) {
        const other = await run(kind, records, size);
        assert.deepEqual(
          other.out.map(canonical).sort(),
          one.out.map(canonical).sort(),
          `pairs, batch size ${size}`,
        );
        // Late records and dead letters of the two branches may interleave differently (see ARCHITECTURE, Diamonds).
        assertSameMultiset(other.late, one.late, `late records, batch size ${size}`);
        assertSameMultiset(other.dead, one.dead, `dead letters, batch size ${size}`);
      }
    });
  }

  test('a run crashed mid-join and restored from its checkpoint gives the same pairs', async () => {
    const name = nextName('ijoin');
    const channel = memoryChannel(name, ['p0']);
    const plan = planFrom(joinPipeline(name, `kind: full\n${JOIN}`, 64), await h.dir(), registry);
    const result = await runCrashedAndRestored(h, registry, plan, channel, records, {
      checkpointAt: 400,
      crashAt: 600,
    });
    assert.equal(result.status, 'completed');
    const got = joinOutputsOf(name);
    const want = expected(records, 'full');
    assertSameMultiset(got.out, want.out, 'pairs after the restore');
    assertSameMultiset(got.late, want.late, 'late records after the restore');
  });
});

describe('interval join state', () => {
  const step = withExpressions(
    { id: 'j', baseDir: '.', clock: new ManualClock(0), functions: new Map() },
    { on: 'l.k = r.k' },
  );
  const pairs = new PairOutput(
    compileJoinCondition('l.k = r.k', { left: 'l', right: 'r' }, step),
    undefined,
    step,
  );
  const discard = { emit() {}, deadLetter() {}, late() {}, filtered() {} };

  test('stays bounded by the interval over a long input', () => {
    const op = new IntervalJoinOperator({
      stepId: 'j',
      pairs,
      kind: 'full',
      lower: -1000,
      upper: 1000,
    });
    op.open({
      stepId: 'j',
      restored: undefined,
      clock: new ManualClock(0),
      watermark: () => Number.NEGATIVE_INFINITY,
    });
    let most = 0;
    for (let t = 0; t < 200_000; t += 10) {
      const side = (t / 10) % 3 === 0 ? 1 : 0;
      op.processBatch({ records: [{ k: t % 50 }], times: [t] }, discard, side);
      op.onWatermark(t - 1, discard);
      const { left, right } = op.stateSize;
      most = Math.max(most, left + right);
    }
    // About 2 s of records (200) per side at most, whatever the length of the input.
    assert.ok(most <= 250, `at most ${most} records kept`);
    op.onWatermark(Number.POSITIVE_INFINITY, discard);
    assert.deepEqual(op.stateSize, { left: 0, right: 0 });
  });

  test('refuses bounds in the wrong order, one input, and a condition without an equality', async () => {
    const dir = await h.dir();
    const plan = (join: string, input = '[bids, auctions]') =>
      planFrom(
        `
name: bad-join
sources:
  bids: { type: memory, channel: bad-bids }
  auctions: { type: memory, channel: bad-auctions }
steps:
  - { id: j, type: join, input: ${input}, ${join} }
sinks:
  out: { type: memory, store: bad-join }
`,
        dir,
        registry,
      );
    await assert.rejects(
      Job.validate(plan('on: bids.a = auctions.id, between: [5s, -5s]'), { registry }),
      (err: Error) => /lower bound .* after the upper bound/.test(err.message),
    );
    await assert.rejects(
      Job.validate(plan('on: bids.a = auctions.id, between: [0s, 5s]', '[bids]'), { registry }),
      /a join reads two different inputs/,
    );
    await assert.rejects(
      Job.validate(plan('on: bids.a > auctions.id, between: [0s, 5s]'), { registry }),
      /no equality between a field of 'bids' and one of 'auctions'/,
    );
  });
});

describe('interval join keyed state', () => {
  const records = bidsAndAuctions(7);
  for (const kind of ['inner', 'full'] as const) {
    test(`${kind}: a checkpoint restored into one store, or split by key group between two, gives the same results, batch sizes 1, 7 and 1024`, () => {
      const c: RestoreCase = {
        options: { kind, between: [`${LOWER}ms`, `${UPPER}ms`] },
        inputs: joinInputsOf(records),
        at: 450,
      };
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

  test('restores a checkpoint of snapshot version 1 (per side, every key’s records) and goes on as before', () => {
    checkOlderFormat(
      'interval',
      readFileSync(new URL('./testdata/interval-join-v1.snapshot', import.meta.url)),
    );
  });
});
