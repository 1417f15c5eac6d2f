/**
 * Column pruning (`prune.ts`): views with columns the query never reads, joined and aggregated.
 * The plan shows the views' maps computing only what the join and the aggregate read; the pruned
 * plan's output, at batch sizes 1, 7 and 1000, is that of the same plan with the views' maps
 * computing every column, and that of a plain loop over the random input.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Plan } from '@sluice/core';
import { finalTables, outputs, resolveSql, runPlan } from './test-support.ts';

interface Bid {
  readonly auction: number;
  readonly price: number;
  readonly bidder: string;
  readonly extra: string;
}
interface Auction {
  readonly id: number;
  readonly category: number;
  readonly reserve: number;
  readonly extra: string;
}

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
  const int = (n: number) => Math.floor(r() * n);
  const bids = Array.from({ length: 500 }, () => ({
    auction: int(40),
    price: int(100),
    bidder: `b${int(5)}`,
    extra: 'x'.repeat(int(20)),
  }));
  const auctions = Array.from({ length: 40 }, (_, id) => ({
    id,
    category: int(4),
    reserve: int(50),
    extra: 'y'.repeat(int(20)),
  })).filter(() => r() > 0.15);
  return { bids, auctions };
}

/** Per category, the highest price of a bid above its auction's reserve, as the sink writes it. */
function oracle(bids: readonly Bid[], auctions: readonly Auction[]): string[] {
  const best = new Map<number, number>();
  for (const b of bids)
    for (const a of auctions)
      if (a.id === b.auction && b.price > a.reserve)
        best.set(a.category, Math.max(best.get(a.category) ?? -1, b.price));
  return [...best].map(([category, top]) => JSON.stringify({ category, top })).sort();
}

const SCRIPT = `CREATE TABLE bids (auction BIGINT, price BIGINT, bidder STRING, extra STRING)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE auctions (id BIGINT, category BIGINT, reserve BIGINT, extra STRING)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');
CREATE VIEW bid AS SELECT auction, price, bidder, UPPER(bidder) AS loud, extra FROM bids;
CREATE VIEW auction AS SELECT id, category, reserve, reserve * 2 AS twice, extra FROM auctions;
CREATE TABLE out_top (category BIGINT, top BIGINT)
WITH ('connector' = 'file', 'path' = './out/top.jsonl', 'changelog' = 'debezium');
INSERT INTO out_top
SELECT A.category, MAX(B.price) AS top
FROM auction A JOIN bid B ON A.id = B.auction
WHERE B.price > A.reserve
GROUP BY A.category;`;

/** The views' maps as the planner writes them before pruning: every column. */
const UNPRUNED: { readonly [id: string]: { readonly [name: string]: string } } = {
  'bid-select': {
    auction: 'auction',
    price: 'price',
    bidder: 'bidder',
    loud: 'upper(bidder)',
    extra: 'extra',
  },
  'auction-select': {
    id: 'id',
    category: 'category',
    reserve: 'reserve',
    twice: 'reserve * 2',
    extra: 'extra',
  },
};

function mapColumns(plan: Plan, id: string): string[] {
  const step = plan.steps.find((s) => s.id === id);
  assert.ok(step !== undefined && step.type === 'map', `${id} is a map of the plan`);
  const config = step.config as { select: string[]; fields: { [name: string]: string } };
  return [...config.select, ...Object.keys(config.fields)].sort();
}

test('a join and an aggregate over views read only the columns the query uses, with the unpruned plan’s output (batches of 1, 7, 1000)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-prune-'));
  try {
    const { bids, auctions } = data(11);
    writeFileSync(join(dir, 'bids.jsonl'), bids.map((b) => `${JSON.stringify(b)}\n`).join(''));
    writeFileSync(join(dir, 'auctions.jsonl'), auctions.map((a) => `${JSON.stringify(a)}\n`).join(''));
    const pruned = resolveSql(SCRIPT, join(dir, 'query.sql'));
    assert.deepEqual(mapColumns(pruned, 'bid-select'), ['auction', 'price']);
    assert.deepEqual(mapColumns(pruned, 'auction-select'), ['category', 'id', 'reserve']);
    const unpruned: Plan = {
      ...pruned,
      steps: pruned.steps.map((s) => {
        const fields = UNPRUNED[s.id];
        return fields === undefined ? s : { ...s, config: { select: [], fields } };
      }),
    };
    assert.deepEqual(mapColumns(unpruned, 'bid-select'), ['auction', 'bidder', 'extra', 'loud', 'price']);
    const want = oracle(bids, auctions);
    assert.ok(want.length === 4, `every category should have a winning bid, got ${want.length}`);
    for (const batchSize of [1, 7, 1000]) {
      const results: string[][] = [];
      for (const plan of [pruned, unpruned]) {
        rmSync(join(dir, 'out'), { recursive: true, force: true });
        rmSync(join(dir, '.sluice'), { recursive: true, force: true });
        await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
        results.push(finalTables(outputs(dir))['top.jsonl'] ?? []);
      }
      assert.deepEqual(results[0], want, `pruned, batches of ${batchSize}`);
      assert.deepEqual(results[1], want, `unpruned, batches of ${batchSize}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a column a sink writes is kept', () => {
  const plan = resolveSql(
    `CREATE TABLE bids (auction BIGINT, price BIGINT, bidder STRING, extra STRING)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE VIEW bid AS SELECT auction, price, bidder, extra FROM bids;
CREATE TABLE out_all (auction BIGINT, price BIGINT, bidder STRING, extra STRING)
WITH ('connector' = 'file', 'path' = './out/all.jsonl');
INSERT INTO out_all SELECT * FROM bid WHERE price > 10;`,
    join(tmpdir(), 'query.sql'),
  );
  const maps = plan.steps.filter((s) => s.type === 'map');
  assert.ok(maps.length > 0, 'the plan has a map');
  for (const m of maps) assert.deepEqual(mapColumns(plan, m.id), ['auction', 'bidder', 'extra', 'price']);
});

/** A Nexmark query over the suite's tables (`nexmark/tables.sql`), writing to `discard`. */
function nexmarkPlan(q: string): Plan {
  const dir = join(import.meta.dirname, 'nexmark');
  const tables = readFileSync(join(dir, 'tables.sql'), 'utf8')
    .replace('{{EVENTS}}', '1000')
    .replace('{{EVENTS_PER_SECOND}}', '1000')
    .replace('{{SEED}}', '1');
  const query = readFileSync(join(dir, `${q}.sql`), 'utf8').replace('{{SINK}}', "'connector' = 'discard'");
  return resolveSql(`${tables}\n${query}`, join(tmpdir(), `${q}.sql`));
}

test('Nexmark q3 and q4 join only the columns they read; q9’s top-N and sink keep every column its SELECT names', () => {
  const q4 = nexmarkPlan('q4');
  assert.deepEqual(mapColumns(q4, 'auction-select'), ['category', 'dateTime', 'expires', 'id']);
  assert.deepEqual(mapColumns(q4, 'bid-select'), ['auction', 'dateTime', 'price']);
  const q3 = nexmarkPlan('q3');
  assert.deepEqual(mapColumns(q3, 'nexmark_q3-left-where'), ['id', 'seller']);
  assert.deepEqual(mapColumns(q3, 'nexmark_q3-right-where'), ['city', 'id', 'name', 'state']);
  const q9 = nexmarkPlan('q9');
  assert.equal(mapColumns(q9, 'auction-select').length, 10);
  // q9 selects neither `channel` nor `url` of the bids.
  assert.deepEqual(mapColumns(q9, 'bid-select'), ['auction', 'bidder', 'dateTime', 'extra', 'price']);
});
