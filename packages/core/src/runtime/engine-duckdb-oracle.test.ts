/**
 * Updating results against an independent oracle: Nexmark events written as JSON lines (as
 * `sluice nexmark` writes them) are read by the `file` source through updating steps — an
 * aggregate without a window, `top_n`, `deduplicate`, regular joins — and each changelog, folded
 * into its final table, must equal what DuckDB computes with the same query in SQL over the same
 * file (`read_json`), for batch sizes 1, 7 and 1024. DuckDB shares no code with the engine, so a
 * mistake the engine's own hand-written oracles share with it shows here.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { NexmarkGenerator } from '../connectors/nexmark-generator.ts';
import { DELETE, type Row, UPDATE_BEFORE } from '../record.ts';
import { foldChangelog, memorySinkStore, rowText } from '../testing/index.ts';
import { assertAccounting, planFrom, tempDir, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';

const registry = testRegistry();

/**
 * 5,000 events: 100 persons, 300 auctions, 4,600 bids. At 1,000 events per second of event time
 * every event has its own millisecond, so an order by `dateTime` has no ties and "the last row"
 * means one row in SQL as in the engine.
 */
const EVENTS = 5_000;
const EVENTS_PER_SECOND = 1_000;
const SEED = 3;
const BATCH_SIZES = [1, 7, 1024] as const;

let dir: string;
let cleanup: () => Promise<void>;
let events: string;
let duck: DuckDBInstance;
let sql: DuckDBConnection;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  events = join(dir, 'events.jsonl');
  // The lines `sluice nexmark` writes: one event a line in the reference suite's JSON form.
  const generator = new NexmarkGenerator({
    seed: SEED,
    baseTime: Date.UTC(2026, 0, 1),
    eventsPerSecond: EVENTS_PER_SECOND,
  });
  const lines: string[] = [];
  for (let n = 0; n < EVENTS; n++) lines.push(JSON.stringify(generator.event(n)));
  await writeFile(events, `${lines.join('\n')}\n`);
  duck = await DuckDBInstance.create(':memory:');
  sql = await duck.connect();
  await sql.run(
    `CREATE TABLE events AS SELECT * FROM read_json('${events}', format = 'newline_delimited', sample_size = -1)`,
  );
});

after(async () => {
  sql?.closeSync();
  duck?.closeSync();
  await cleanup?.();
});

/** The rows of a DuckDB query, BIGINT and HUGEINT values as numbers, as `rowText` strings, sorted. */
async function oracle(query: string): Promise<string[]> {
  const reader = await sql.runAndReadAll(query);
  return reader
    .getRowObjects()
    .map((row) => {
      const out: Row = {};
      for (const [name, value] of Object.entries(row)) {
        if (typeof value === 'bigint') {
          assert.ok(Number.isSafeInteger(Number(value)), `${name} = ${value} fits a double`);
          out[name] = Number(value);
        } else out[name] = value;
      }
      return rowText(out);
    })
    .sort();
}

let runs = 0;

/** What a run gives: its changelog folded into a table, and how many changes retracted a row. */
interface Folded {
  table: string[];
  retractions: number;
}

/**
 * Runs `steps` over the events file (the source `events`; the last step goes to the sink) with
 * `batch` records a batch, and folds the sink's changelog. Nothing may be dead or late.
 */
async function sluice(steps: string, last: string, batch: number): Promise<Folded> {
  const name = `duckdb-oracle-${++runs}`;
  const yaml = `
name: ${name}
settings: { checkpoint: { interval: 0s, dir: ./checkpoints-${runs} }, batch_size: ${batch} }
sources:
  events:
    type: file
    path: ${events}
    format: json
    event_time: { expression: "coalesce(bid.dateTime, auction.dateTime, person.dateTime)" }
steps:${steps}
sinks:
  out: { type: memory, store: ${name}-out, input: ${last}, changelog: true }
dead_letter: { type: memory, store: ${name}-dead }
late_output: { type: memory, store: ${name}-late }
`;
  const job = await Job.create(planFrom(yaml, dir, registry), { registry, fromScratch: true });
  const result = await job.run();
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics);
  assert.equal(result.metrics.recordsIn, EVENTS);
  assert.deepEqual(memorySinkStore(`${name}-dead`).written, [], 'no dead letters');
  assert.deepEqual(memorySinkStore(`${name}-late`).written, [], 'nothing late');
  const written = memorySinkStore(`${name}-out`).written;
  return {
    table: foldChangelog(written),
    retractions: written.filter((w) => w.kind === UPDATE_BEFORE || w.kind === DELETE).length,
  };
}

/** Asserts that every batch size gives DuckDB's table; returns the run with batch size 1. */
async function assertOracle(steps: string, last: string, query: string, minRows: number): Promise<Folded> {
  const want = await oracle(query);
  assert.ok(want.length >= minRows, `the oracle has ${want.length} rows`);
  let first: Folded | undefined;
  for (const batch of BATCH_SIZES) {
    const got = await sluice(steps, last, batch);
    assert.deepEqual(got.table, want, `batch size ${batch}`);
    first ??= got;
  }
  return first!;
}

const BIDS = `
  - { id: bids, type: filter, input: events, where: event_type = 2 }`;

describe('updating results against DuckDB over the same JSON lines', () => {
  test('aggregate without a window: bids, bidders, total, average and highest price per auction', async () => {
    const run = await assertOracle(
      `${BIDS}
  - id: bid
    type: map
    select: []
    fields: { auction: bid.auction, bidder: bid.bidder, price: bid.price }
  - id: per_auction
    type: aggregate
    key: [auction]
    fields:
      bids: count(*)
      bidders: count(DISTINCT bidder)
      total: sum(price)
      average: avg(price)
      top: max(price)`,
      'per_auction',
      `SELECT bid.auction AS auction, count(*) AS bids, count(DISTINCT bid.bidder) AS bidders,
              sum(bid.price) AS total, avg(bid.price) AS average, max(bid.price) AS top
       FROM events WHERE event_type = 2 GROUP BY bid.auction`,
      100,
    );
    assert.ok(run.retractions > 1000, `the changelog updates results (${run.retractions} retractions)`);
  });

  test('top_n with a rank: the three auctions with the highest reserve per category', async () => {
    const run = await assertOracle(
      `
  - { id: auctions, type: filter, input: events, where: event_type = 1 }
  - id: auction
    type: map
    select: []
    fields: { id: auction.id, category: auction.category, reserve: auction.reserve }
  - { id: top, type: top_n, key: [category], order_by: [reserve DESC], n: 3, rank_field: rank }`,
      'top',
      // Ties rank the earlier auction first, as the engine does: auction ids grow with arrival.
      `SELECT auction.id AS id, auction.category AS category, auction.reserve AS reserve,
              row_number() OVER (PARTITION BY auction.category ORDER BY auction.reserve DESC, auction.id) AS rank
       FROM events WHERE event_type = 1 QUALIFY rank <= 3`,
      15,
    );
    assert.ok(run.retractions > 0, `ranks change (${run.retractions} retractions)`);
  });

  test('top_n: the two highest bids per auction', async () => {
    const run = await assertOracle(
      `${BIDS}
  - id: bid
    type: map
    select: []
    fields: { auction: bid.auction, price: bid.price, bidder: bid.bidder, dateTime: bid.dateTime }
  - { id: top, type: top_n, key: [auction], order_by: [price DESC, dateTime], n: 2 }`,
      'top',
      `SELECT bid.auction AS auction, bid.price AS price, bid.bidder AS bidder, bid.dateTime AS dateTime
       FROM events WHERE event_type = 2
       QUALIFY row_number() OVER (PARTITION BY bid.auction ORDER BY bid.price DESC, bid.dateTime) <= 2`,
      200,
    );
    assert.ok(run.retractions > 100, `bids are pushed out (${run.retractions} retractions)`);
  });

  for (const keep of ['last', 'first'] as const) {
    test(`deduplicate keeping the ${keep} bid per bidder (event time)`, async () => {
      const run = await assertOracle(
        `${BIDS}
  - id: bid
    type: map
    select: []
    fields: { bidder: bid.bidder, auction: bid.auction, price: bid.price, dateTime: bid.dateTime }
  - { id: kept, type: deduplicate, key: [bidder], keep: ${keep} }`,
        'kept',
        `SELECT bid.bidder AS bidder, bid.auction AS auction, bid.price AS price, bid.dateTime AS dateTime
         FROM events WHERE event_type = 2
         QUALIFY row_number() OVER (PARTITION BY bid.bidder ORDER BY bid.dateTime ${keep === 'last' ? 'DESC' : 'ASC'}) = 1`,
        50,
      );
      if (keep === 'last')
        assert.ok(run.retractions > 1000, `rows replaced (${run.retractions} retractions)`);
      else assert.equal(run.retractions, 0, 'keeping the first row is append-only');
    });
  }

  for (const kind of ['inner', 'left', 'right', 'full'] as const) {
    test(`regular ${kind} join of bids with their auctions`, async () => {
      const run = await assertOracle(
        `${BIDS}
  - { id: auctions, type: filter, input: events, where: event_type = 1 }
  - id: joined
    type: join
    input: [bids, auctions]
    kind: ${kind}
    on: bids.bid.auction = auctions.auction.id
    fields:
      auction: bids.bid.auction
      bidder: bids.bid.bidder
      price: bids.bid.price
      dateTime: bids.bid.dateTime
      seller: auctions.auction.seller
      category: auctions.auction.category`,
        'joined',
        `SELECT b.bid.auction AS auction, b.bid.bidder AS bidder, b.bid.price AS price,
                b.bid.dateTime AS dateTime, a.auction.seller AS seller, a.auction.category AS category
         FROM (SELECT bid FROM events WHERE event_type = 2) b
           ${kind.toUpperCase()} JOIN (SELECT auction FROM events WHERE event_type = 1) a
           ON b.bid.auction = a.auction.id`,
        4000,
      );
      // Some bids name an auction that comes later (or never): a left join pads them with NULL
      // and retracts that row when their auction arrives; a right join pads an auction until
      // its first bid.
      if (kind === 'inner') assert.equal(run.retractions, 0, 'an inner join of appends is append-only');
      else assert.ok(run.retractions > 0, `padded rows retracted (${run.retractions})`);
    });
  }
});
