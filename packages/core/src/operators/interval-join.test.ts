/**
 * The interval join, run as a pipeline: one source of bids and auctions split by two filters and
 * joined again (the Nexmark shape). Checked against an independent computation of the same input
 * — which pairs exist, which records are late — for every join kind and batch sizes 1, 7 and
 * 1024; across a crash and restore; with bounded state over a long input; and its errors.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Row } from '../record.ts';
import {
  assertAccounting,
  assertSameMultiset,
  canonical,
  Harness,
  planFrom,
  runCrashedAndRestored,
  testRegistry,
} from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { IntervalJoinOperator, type JoinKind } from './interval-join.ts';
import { compileJoinCondition } from './join-condition.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

const BOUND = 2_000;
const LOWER = -3_000;
const UPPER = 4_000;

/**
 * Bids and auctions over a few minutes, one partition: mostly in order, some up to 1.5 s out of
 * order, one in twenty-five 30 s behind (late), a few with a NULL key, and a few whose key fails
 * (dead letters): without the key field, or with an object there, which `auction + 0` refuses.
 */
function input(seed: number, n = 900): Row[] {
  let x = seed;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const out: Row[] = [];
  let t = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    t += Math.floor(next() * 400);
    const roll = next();
    const ts = roll < 0.04 ? t - 30_000 : roll < 0.3 ? t - Math.floor(next() * 1_500) : t;
    const key = Math.floor(next() * 12);
    const r: Row =
      next() < 0.25
        ? { type: 'auction', id: key, seller: `s${i}`, ts }
        : { type: 'bid', auction: key, price: i, ts };
    const odd = next();
    const field = r.type === 'bid' ? 'auction' : 'id';
    if (odd < 0.02) r[field] = null;
    else if (odd < 0.03) r[field] = { nested: true };
    else if (odd < 0.035) delete r[field];
    out.push(r);
  }
  return out;
}

function pipeline(name: string, kind: JoinKind, batchSize: number): string {
  return `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batchSize} }
sources:
  events: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: ${BOUND}ms } }
steps:
  - { id: bids, type: filter, input: events, where: "type = 'bid'" }
  - { id: auctions, type: filter, input: events, where: "type = 'auction'" }
  - id: joined
    type: join
    input: [bids, auctions]
    kind: ${kind}
    on: bids.auction + 0 = auctions.id + 0
    between: [${LOWER}ms, ${UPPER}ms]
    fields: { price: bids.price, auction: bids.auction, seller: auctions.seller, bid_ts: bids.ts, auction_ts: auctions.ts }
sinks:
  out: { type: memory, store: ${name}-out, input: joined }
late_output: { type: memory, store: ${name}-late }
dead_letter: { type: memory, store: ${name}-dead }
`;
}

let runs = 0;

interface Outputs {
  out: Row[];
  late: Row[];
  dead: Row[];
}

async function run(kind: JoinKind, records: readonly Row[], batchSize: number): Promise<Outputs> {
  const name = `ijoin-${++runs}`;
  const channel = memoryChannel(name, ['p0']);
  const plan = planFrom(pipeline(name, kind, batchSize), await h.dir(), registry);
  const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
  const running = h.run(job);
  channel.push('p0', ...records);
  channel.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics);
  return outputsOf(name);
}

function outputsOf(name: string): Outputs {
  return {
    out: memorySinkStore(`${name}-out`).committed,
    late: memorySinkStore(`${name}-late`).committed,
    dead: memorySinkStore(`${name}-dead`).committed.map(({ failedAt: _, ...rest }) => rest),
  };
}

/** The join computed apart from the engine: the watermark each record met, then every pair. */
function expected(records: readonly Row[], kind: JoinKind): { out: Row[]; late: Row[] } {
  let max = Number.NEGATIVE_INFINITY;
  const late: Row[] = [];
  const bids: Row[] = [];
  const auctions: Row[] = [];
  for (const r of records) {
    const wm = max - BOUND - 1;
    const t = r.ts as number;
    if (t > max) max = t;
    const key = r.type === 'bid' ? r.auction : r.id;
    if (key === undefined || (typeof key === 'object' && key !== null)) continue; // a dead letter
    if (t <= wm) late.push(r);
    else (r.type === 'bid' ? bids : auctions).push(r);
  }
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
  const records = input(7);
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
        assert.deepEqual(other.late, one.late, `late records, batch size ${size}`);
        assert.deepEqual(other.dead, one.dead, `dead letters, batch size ${size}`);
      }
    });
  }

  test('a run crashed mid-join and restored from its checkpoint gives the same pairs', async () => {
    const name = `ijoin-${++runs}`;
    const channel = memoryChannel(name, ['p0']);
    const plan = planFrom(pipeline(name, 'full', 64), await h.dir(), registry);
    const result = await runCrashedAndRestored(h, registry, plan, channel, records, {
      checkpointAt: 400,
      crashAt: 600,
    });
    assert.equal(result.status, 'completed');
    const got = outputsOf(name);
    const want = expected(records, 'full');
    assertSameMultiset(got.out, want.out, 'pairs after the restore');
    assertSameMultiset(got.late, want.late, 'late records after the restore');
  });
});

describe('interval join state', () => {
  const condition = compileJoinCondition(
    'l.k = r.k',
    { left: 'l', right: 'r' },
    { id: 'j', baseDir: '.', clock: new ManualClock(0), functions: new Map() },
  );
  const discard = { emit() {}, deadLetter() {}, late() {}, filtered() {} };

  test('stays bounded by the interval over a long input', () => {
    const op = new IntervalJoinOperator({
      stepId: 'j',
      condition,
      output: undefined,
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
    await assert.rejects(Job.validate(plan('on: bids.a = auctions.id'), { registry }), /needs `between`/);
  });
});
