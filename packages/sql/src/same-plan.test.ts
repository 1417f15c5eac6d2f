/**
 * One pipeline, two front ends: a SQL script and the YAML a user would write for it compile to
 * equal plans once resolved (configs with defaults, expression trees, schemas, keys), apart from
 * where they came from (`locations`, `name`), and give equal output on the same input.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parsePipelineYaml, resolvePlan } from '@sluice/core';
import { finalTables, meaning, outputs, registry, resolveSql, runPlan } from './test-support.ts';

const bids = [
  { auction: 1, price: 10, bidder: 'ann', ts: 1000 },
  { auction: 2, price: 20, bidder: 'bob', ts: 4000 },
  { auction: 1, price: 12, bidder: 'cy', ts: 6000 },
  { auction: 1, price: 30, bidder: 'cy', ts: 11_000 },
  { auction: 2, price: 0.5, bidder: 'ann', ts: 13_000 },
  { auction: 1, price: 5, bidder: 'ann', ts: 21_000 },
];

const auctions = [
  { id: 1, seller: 'dora', opened: 2000 },
  { id: 2, seller: 'eli', opened: 5000 },
];

const table = `CREATE TABLE bids (
  auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
`;
const source = `sources:
  bids:
    type: file
    path: ./bids.jsonl
    format: json
    event_time: { field: ts, max_out_of_orderness: 2s }
`;

/**
 * How the two outputs must agree: line for line; as sets of lines, where the order depends on
 * which of two sources the engine reads first (a join); or as the table a changelog leaves.
 */
type Agreement = 'lines' | 'unordered' | 'final';

function compared(written: { [file: string]: string[] }, agreement: Agreement): { [file: string]: string[] } {
  if (agreement === 'final') return finalTables(written);
  if (agreement === 'lines') return written;
  return Object.fromEntries(Object.entries(written).map(([file, lines]) => [file, [...lines].sort()]));
}

async function bothWays(sql: string, yaml: string, agreement: Agreement = 'lines'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-same-'));
  try {
    writeFileSync(join(dir, 'bids.jsonl'), `${bids.map((b) => JSON.stringify(b)).join('\n')}\n`);
    writeFileSync(join(dir, 'auctions.jsonl'), `${auctions.map((a) => JSON.stringify(a)).join('\n')}\n`);
    const fromSql = resolveSql(sql, join(dir, 'query.sql'));
    const fromYaml = resolvePlan(parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry }), registry);
    assert.deepEqual(meaning(fromSql), meaning(fromYaml));
    await runPlan(fromSql);
    const sqlOut = compared(outputs(dir), agreement);
    rmSync(join(dir, 'out'), { recursive: true });
    rmSync(join(dir, '.sluice'), { recursive: true, force: true });
    await runPlan(fromYaml);
    assert.ok(
      Object.values(sqlOut).some((lines) => lines.length > 0),
      'the SQL plan wrote nothing',
    );
    assert.deepEqual(compared(outputs(dir), agreement), sqlOut);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a TUMBLE window aggregation in SQL is the aggregate step YAML writes', async () => {
  await bothWays(
    `${table}
CREATE TABLE per_auction (auction BIGINT, window_start BIGINT, window_end BIGINT, bids BIGINT, top DOUBLE)
WITH ('connector' = 'file', 'path' = './out/per-auction.jsonl');
INSERT INTO per_auction
SELECT auction, window_start, window_end, count(*) AS bids, max(price) AS top
FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
WHERE price > 1
GROUP BY auction, window_start, window_end;`,
    `name: same
${source}
steps:
  - id: per_auction-where
    type: filter
    input: bids
    where: price > 1
  - id: per_auction-aggregate
    type: aggregate
    key: [auction]
    window: { type: tumbling, size: 10s }
    fields:
      bids: count(*)
      top: max(price)
sinks:
  per_auction: { type: file, path: ./out/per-auction.jsonl }
`,
  );
});

test('a projection with WHERE in SQL is the filter and map YAML writes', async () => {
  await bothWays(
    `${table}
CREATE TABLE big (auction BIGINT, who STRING, cents DOUBLE)
WITH ('connector' = 'file', 'path' = './out/big.jsonl');
INSERT INTO big
SELECT auction, upper(bidder) AS who, price * 100 AS cents FROM bids WHERE price >= 10;`,
    `name: same
${source}
steps:
  - id: big-where
    type: filter
    where: price >= 10
  - id: big-select
    type: map
    select: [auction]
    fields:
      who: upper(bidder)
      cents: price * 100
sinks:
  big: { type: file, path: ./out/big.jsonl }
`,
  );
});

test('names in backticks, as Flink quotes them (a reserved word among them), are the double-quoted names YAML writes', async () => {
  await bothWays(
    `CREATE TABLE \`bids\` (
  \`auction\` BIGINT, \`price\` DOUBLE, \`bidder\` STRING, \`ts\` BIGINT,
  WATERMARK FOR \`ts\` AS \`ts\` - INTERVAL '2' SECOND
) WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE \`big\` (\`auction\` BIGINT, \`user\` STRING, \`order\` DOUBLE)
WITH ('connector' = 'file', 'path' = './out/big.jsonl');
INSERT INTO \`big\`
SELECT b.\`auction\`, upper(\`bidder\`) AS \`user\`, \`price\` * 100 AS \`order\` FROM \`bids\` AS b WHERE b.\`price\` >= 10;`,
    `name: same
${source}
steps:
  - id: big-where
    type: filter
    where: price >= 10
  - id: big-select
    type: map
    select: [auction]
    fields:
      user: upper("bidder")
      order: '"price" * 100'
sinks:
  big: { type: file, path: ./out/big.jsonl }
`,
  );
});

const auctionsTable = `CREATE TABLE auctions (id BIGINT, seller STRING, opened BIGINT,
  WATERMARK FOR opened AS opened - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');
`;
const auctionsSource = `  auctions:
    type: file
    path: ./auctions.jsonl
    format: json
    event_time: { field: opened, max_out_of_orderness: 1s }
`;

test('an interval join in SQL is the join step with `between` YAML writes', async () => {
  await bothWays(
    `${table}${auctionsTable}
CREATE TABLE early (auction BIGINT, bidder STRING, seller STRING)
WITH ('connector' = 'file', 'path' = './out/early.jsonl');
INSERT INTO early
SELECT b.auction, bidder, a.seller
FROM bids b JOIN auctions AS a
  ON a.id = b.auction AND b.ts BETWEEN a.opened - INTERVAL '2' SECOND AND a.opened + INTERVAL '10' SECOND;`,
    `name: same
${source}${auctionsSource}
steps:
  - id: early-join
    type: join
    input: [bids, auctions]
    on: auctions.id = bids.auction
    between: [-10s, 2s]
    fields:
      auction: bids.auction
      bidder: bids.bidder
      seller: auctions.seller
sinks:
  early: { type: file, path: ./out/early.jsonl }
`,
    'unordered',
  );
});

test('a LEFT JOIN with WHERE in SQL filters the kept side before the join and the padded side after it, as YAML would', async () => {
  await bothWays(
    `${table}${auctionsTable}
CREATE TABLE sold (auction BIGINT, price DOUBLE, seller STRING)
WITH ('connector' = 'file', 'path' = './out/sold.jsonl', 'changelog' = 'debezium');
INSERT INTO sold
SELECT b.auction, price, a.seller
FROM bids AS b LEFT OUTER JOIN auctions a ON b.auction = a.id
WHERE b.price >= 10 AND (a.seller IS NULL OR a.seller <> 'eli');`,
    `name: same
${source}${auctionsSource}
steps:
  - id: sold-left-where
    type: filter
    input: bids
    where: price >= 10
  - id: sold-join
    type: join
    input: [sold-left-where, auctions]
    on: '"sold-left-where".auction = auctions.id'
    kind: left
  - id: sold-where
    type: filter
    where: auctions.seller IS NULL OR auctions.seller <> 'eli'
  - id: sold-select
    type: map
    select: []
    fields:
      auction: '"sold-left-where".auction'
      price: '"sold-left-where".price'
      seller: auctions.seller
sinks:
  sold: { type: file, path: ./out/sold.jsonl, changelog: debezium }
`,
    'final',
  );
});

test('HAVING and an aggregate FILTER in SQL are the aggregate, filter and map YAML writes', async () => {
  await bothWays(
    `${table}
CREATE TABLE spenders (bidder STRING, total DOUBLE, big BIGINT)
WITH ('connector' = 'file', 'path' = './out/spenders.jsonl', 'changelog' = 'debezium');
INSERT INTO spenders
SELECT bidder, sum(price) AS total, count(*) FILTER (WHERE price >= 10) AS big
FROM bids GROUP BY bidder HAVING count(*) >= 2;`,
    `name: same
${source}
steps:
  - id: spenders-aggregate
    type: aggregate
    key: [bidder]
    fields:
      total: sum(price)
      big: count(CASE WHEN price >= 10 THEN 1 END)
      _having_1: count(*)
  - id: spenders-having
    type: filter
    where: _having_1 >= 2
  - id: spenders-select
    type: map
    select: [bidder, total, big]
    fields: {}
sinks:
  spenders: { type: file, path: ./out/spenders.jsonl, changelog: debezium }
`,
    'final',
  );
});

test('ROW_NUMBER() top-N in SQL is the top_n step YAML writes', async () => {
  await bothWays(
    `${table}
CREATE TABLE top2 (auction BIGINT, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/top2.jsonl', 'changelog' = 'debezium');
INSERT INTO top2
SELECT auction, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bids
) WHERE rn <= 2;`,
    `name: same
${source}
steps:
  - id: top2-subquery1-select
    type: map
    select: [auction, price, bidder, ts]
    fields: {}
  - id: top2-top-n
    type: top_n
    key: [auction]
    order_by: [price DESC]
    n: 2
  - id: top2-select
    type: map
    select: [auction, price]
    fields: {}
sinks:
  top2: { type: file, path: ./out/top2.jsonl, changelog: debezium }
`,
  );
});

test('MATCH_RECOGNIZE in SQL is the pattern step YAML writes, with running conditions', async () => {
  await bothWays(
    `${table}
CREATE TABLE rises (auction BIGINT, first_price DOUBLE, top DOUBLE, rises BIGINT)
WITH ('connector' = 'file', 'path' = './out/rises.jsonl');
INSERT INTO rises
SELECT * FROM bids MATCH_RECOGNIZE (
  PARTITION BY auction
  ORDER BY ts
  MEASURES FIRST(A.price) AS first_price, LAST(B.price) AS top, COUNT(B.price) AS rises
  ONE ROW PER MATCH
  AFTER MATCH SKIP PAST LAST ROW
  PATTERN (A B+? C) WITHIN INTERVAL '1' MINUTE
  DEFINE B AS B.price > PREV(B.price), C AS C.price < LAST(B.price)
);`,
    `name: same
${source}
steps:
  - id: rises-match
    type: pattern
    input: bids
    key: [auction]
    running: true
    within: 1m
    stages:
      - { name: A, where: 'true' }
      - { name: B, where: B.price > PREV(B.price), quantifier: +? }
      - { name: C, where: C.price < LAST(B.price) }
    measures:
      first_price: FIRST(A.price)
      top: LAST(B.price)
      rises: COUNT(B.price)
  - id: rises-measures
    type: map
    select: [auction, first_price, top, rises]
sinks:
  rises: { type: file, path: ./out/rises.jsonl }
`,
  );
});

test('an OVER aggregate in SQL is the over_aggregate step YAML writes', async () => {
  await bothWays(
    `${table}
CREATE TABLE recent (auction BIGINT, bidder STRING, ts BIGINT, total DOUBLE, bids BIGINT)
WITH ('connector' = 'file', 'path' = './out/recent.jsonl');
INSERT INTO recent
SELECT auction, bidder, ts, SUM(price) OVER w AS total, COUNT(*) OVER w AS bids
FROM bids
WINDOW w AS (PARTITION BY auction ORDER BY ts RANGE BETWEEN INTERVAL '10' SECOND PRECEDING AND CURRENT ROW);`,
    `name: same
${source}
steps:
  - id: recent-over
    type: over_aggregate
    key: [auction]
    range: 10s
    fields:
      total: SUM(price)
      bids: COUNT(*)
  - id: recent-select
    type: map
    select: [auction, bidder, ts, total, bids]
sinks:
  recent: { type: file, path: ./out/recent.jsonl }
`,
  );
});

test('a window join in SQL (Flink’s form) is the join step with `window` YAML writes', async () => {
  await bothWays(
    `${table}${auctionsTable}
CREATE TABLE opening (auction BIGINT, bidder STRING, seller STRING, window_start BIGINT, window_end BIGINT)
WITH ('connector' = 'file', 'path' = './out/opening.jsonl');
INSERT INTO opening
SELECT B.auction, B.bidder, A.seller, COALESCE(A.window_start, B.window_start) AS window_start, B.window_end
FROM (SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))) B
LEFT JOIN (SELECT * FROM TABLE(TUMBLE(TABLE auctions, DESCRIPTOR(opened), INTERVAL '10' SECOND))) A
  ON B.auction = A.id AND B.window_start = A.window_start AND B.window_end = A.window_end;`,
    `name: same
${source}${auctionsSource}
steps:
  - id: opening-join
    type: join
    input: [bids, auctions]
    on: bids.auction = auctions.id
    kind: left
    window: { type: tumbling, size: 10s }
    fields:
      auction: bids.auction
      bidder: bids.bidder
      seller: auctions.seller
      window_start: COALESCE(CASE WHEN auctions IS NULL THEN NULL ELSE window_start END, window_start)
      window_end: window_end
sinks:
  opening: { type: file, path: ./out/opening.jsonl }
`,
  );
});
