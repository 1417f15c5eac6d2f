/**
 * Filter push-down into a join's inputs (`pushdown.ts`), checked against a plain loop: a regular
 * join of bids and auctions of each kind (inner, LEFT, RIGHT, FULL) with a WHERE that has a
 * conjunct on each side, one of which tests for the NULL a padded row holds — pushing that one
 * into the padded side would let rows through that the WHERE drops. The folded result of each
 * query, at several batch sizes, must be the loop's: every matching pair and padded row, filtered
 * by the whole WHERE after the join, in SQL's three-valued logic.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { finalTables, outputs, resolveSql, runPlan } from './test-support.ts';

interface Bid {
  readonly auction: number;
  readonly price: number;
  readonly bidder: string;
}
interface Auction {
  readonly id: number;
  readonly seller: string | null;
}

const KINDS = ['inner', 'left', 'right', 'full'] as const;
type Kind = (typeof KINDS)[number];
const JOINS: { readonly [k in Kind]: string } = {
  inner: 'JOIN',
  left: 'LEFT JOIN',
  right: 'RIGHT JOIN',
  full: 'FULL JOIN',
};

/** A small deterministic generator (mulberry32), so a failure repeats. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function data(seed: number): { bids: Bid[]; auctions: Auction[] } {
  const r = random(seed);
  const sellers = ['ann', 'eli', 'bo', null];
  const bids = Array.from({ length: 400 }, () => ({
    auction: Math.floor(r() * 30),
    price: Math.floor(r() * 30),
    bidder: ['x', 'y', 'z'][Math.floor(r() * 3)],
  }));
  // Ids 0–39 but some missing, so that bids and auctions are left unmatched on both sides.
  const auctions = Array.from({ length: 40 }, (_, id) => ({
    id,
    seller: sellers[Math.floor(r() * 4)],
  })).filter(() => r() > 0.2);
  return { bids, auctions };
}

/** The WHERE: each conjunct holds for a padded side's NULLs, so padded rows are written. */
function where(b: Bid | null, a: Auction | null): boolean {
  const price = b === null ? null : b.price;
  const seller = a === null ? null : a.seller;
  const id = a === null ? null : a.id;
  return (price === null || price >= 10) && (seller === null || seller !== 'eli') && (id === null || id < 35);
}

/** The rows the loop joins, as the sink writes them. */
function oracle(bids: readonly Bid[], auctions: readonly Auction[], kind: Kind): string[] {
  const rows: string[] = [];
  const row = (b: Bid | null, a: Auction | null) => {
    if (!where(b, a)) return;
    rows.push(
      JSON.stringify({
        auction: b?.auction ?? null,
        price: b?.price ?? null,
        bidder: b?.bidder ?? null,
        id: a?.id ?? null,
        seller: a?.seller ?? null,
      }),
    );
  };
  const matchedAuctions = new Set<Auction>();
  for (const b of bids) {
    const matches = auctions.filter((a) => a.id === b.auction);
    for (const a of matches) {
      row(b, a);
      matchedAuctions.add(a);
    }
    if (matches.length === 0 && (kind === 'left' || kind === 'full')) row(b, null);
  }
  if (kind === 'right' || kind === 'full')
    for (const a of auctions) if (!matchedAuctions.has(a)) row(null, a);
  return rows.sort();
}

function script(): string {
  const parts = [
    `CREATE TABLE bids (auction BIGINT, price BIGINT, bidder STRING)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE auctions (id BIGINT, seller STRING)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');`,
  ];
  for (const kind of KINDS)
    parts.push(`CREATE TABLE out_${kind} (auction BIGINT, price BIGINT, bidder STRING, id BIGINT, seller STRING)
WITH ('connector' = 'file', 'path' = './out/${kind}.jsonl', 'changelog' = 'debezium');
INSERT INTO out_${kind}
SELECT b.auction, b.price, b.bidder, a.id, a.seller
FROM bids b ${JOINS[kind]} auctions a ON b.auction = a.id
WHERE (b.price IS NULL OR b.price >= 10) AND (a.seller IS NULL OR a.seller <> 'eli') AND (a.id IS NULL OR a.id < 35);`);
  return parts.join('\n');
}

test('WHERE conjuncts of one side filter it before the join only where the result stays the loop’s (inner, LEFT, RIGHT, FULL; batches of 1, 7, 1000)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-pushdown-'));
  try {
    const { bids, auctions } = data(7);
    writeFileSync(join(dir, 'bids.jsonl'), bids.map((b) => `${JSON.stringify(b)}\n`).join(''));
    writeFileSync(join(dir, 'auctions.jsonl'), auctions.map((a) => `${JSON.stringify(a)}\n`).join(''));
    const plan = resolveSql(script(), join(dir, 'query.sql'));
    // What was pushed, per kind: the bids' conjunct into the kept bids, the auctions' into the
    // kept auctions; nothing into a padded side.
    const pushed = (kind: Kind) =>
      plan.steps
        .filter((s) => s.type === 'filter' && s.id.startsWith(`out_${kind}-`) && s.id !== `out_${kind}-where`)
        .map((s) => `${s.id}: ${(s.config as { where: string }).where}`);
    assert.deepEqual(pushed('inner'), [
      'out_inner-left-where: price IS NULL OR price >= 10',
      "out_inner-right-where: (seller IS NULL OR seller <> 'eli') AND (id IS NULL OR id < 35)",
    ]);
    assert.deepEqual(pushed('left'), ['out_left-left-where: price IS NULL OR price >= 10']);
    assert.deepEqual(pushed('right'), [
      "out_right-right-where: (seller IS NULL OR seller <> 'eli') AND (id IS NULL OR id < 35)",
    ]);
    assert.deepEqual(pushed('full'), []);
    const want = Object.fromEntries(KINDS.map((k) => [k, oracle(bids, auctions, k)]));
    assert.ok(want.inner.length > 50, `the input should give many pairs, got ${want.inner.length}`);
    assert.ok(want.full.length > want.inner.length + 10, 'the input should leave rows unmatched');
    for (const batchSize of [1, 7, 1000]) {
      rmSync(join(dir, 'out'), { recursive: true, force: true });
      rmSync(join(dir, '.sluice'), { recursive: true, force: true });
      await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
      const got = finalTables(outputs(dir));
      for (const kind of KINDS)
        assert.deepEqual(got[`${kind}.jsonl`] ?? [], want[kind], `${kind}, batches of ${batchSize}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a conjunct that calls a volatile function (now()) or reads both sides stays after the join', () => {
  const plan = resolveSql(
    `CREATE TABLE bids (auction BIGINT, price BIGINT, bidder STRING)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE auctions (id BIGINT, seller STRING)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');
CREATE TABLE out_now (auction BIGINT, seller STRING) WITH ('connector' = 'file', 'path' = './out/now.jsonl');
INSERT INTO out_now
SELECT b.auction, a.seller FROM bids b JOIN auctions a ON b.auction = a.id
WHERE b.price < now() AND b.bidder <> a.seller;`,
    join(tmpdir(), 'query.sql'),
  );
  assert.deepEqual(
    plan.steps.filter((s) => s.type === 'filter').map((s) => [s.id, (s.config as { where: string }).where]),
    [['out_now-where', 'bids.price < now() AND bids.bidder <> auctions.seller']],
  );
});
