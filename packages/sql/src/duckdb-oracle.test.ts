/**
 * The SQL this front end plans beyond one SELECT — HAVING, FILTER, COUNT(DISTINCT), DISTINCT,
 * WITH, UNION ALL, SESSION and CUMULATE windows, window table functions' rows, top-N (also per
 * window), deduplication (also per window) and OVER aggregates (ROWS and RANGE frames) — against an independent
 * oracle: 2,000 generated bids (out of order within the watermark's bound, in bursts that split
 * sessions) are run through one Sluice script, and the table each sink's output leaves (a
 * changelog folded, or the appended rows) must equal what DuckDB computes over the same file with
 * the same query in its own SQL. DuckDB shares no code with the planner or the engine.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Row } from '@sluice/core';
import { rowText } from '@sluice/core/testing';
import { finalTables, outputs, resolveSql, runPlan } from './test-support.ts';

const BIDS = 2_000;

/** Bids with distinct event times, each at most 1.2 s behind the latest, in bursts 10 s apart. */
function generateBids(): Row[] {
  let state = 7;
  const next = (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return Math.floor(state / 65_536) % n;
  };
  const used = new Set<number>();
  const bids: Row[] = [];
  for (let seq = 0; seq < BIDS; seq++) {
    let ts = 1_000_000 + seq * 97 + Math.floor(seq / 60) * 10_000 - next(13) * 90;
    while (used.has(ts)) ts++;
    used.add(ts);
    bids.push({
      seq,
      auction: 1 + next(8),
      bidder: `b${next(25)}`,
      price: 1 + next(100),
      ts,
    });
  }
  return bids;
}

const script = `
CREATE TABLE bids (seq BIGINT, auction BIGINT, bidder STRING, price BIGINT, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE spend (bidder STRING, total BIGINT, auctions BIGINT, big BIGINT, top_price BIGINT)
WITH ('connector' = 'file', 'path' = './out/spend.jsonl', 'changelog' = 'debezium');
CREATE TABLE pairs (auction BIGINT, bidder STRING) WITH ('connector' = 'file', 'path' = './out/pairs.jsonl');
CREATE TABLE merged (auction BIGINT, window_start BIGINT, n BIGINT, total BIGINT)
WITH ('connector' = 'file', 'path' = './out/merged.jsonl');
CREATE TABLE top3 (auction BIGINT, seq BIGINT, price BIGINT, rn BIGINT)
WITH ('connector' = 'file', 'path' = './out/top3.jsonl', 'changelog' = 'debezium');
CREATE TABLE latest (bidder STRING, seq BIGINT, price BIGINT)
WITH ('connector' = 'file', 'path' = './out/latest.jsonl', 'changelog' = 'debezium');
CREATE TABLE sessions (auction BIGINT, window_start BIGINT, window_end BIGINT, n BIGINT, total BIGINT)
WITH ('connector' = 'file', 'path' = './out/sessions.jsonl');
CREATE TABLE running (window_start BIGINT, window_end BIGINT, n BIGINT, total BIGINT)
WITH ('connector' = 'file', 'path' = './out/running.jsonl');
CREATE TABLE hop_rows (seq BIGINT, window_start BIGINT, window_end BIGINT)
WITH ('connector' = 'file', 'path' = './out/hop-rows.jsonl');
CREATE TABLE window_top (window_start BIGINT, seq BIGINT, price BIGINT)
WITH ('connector' = 'file', 'path' = './out/window-top.jsonl', 'changelog' = 'debezium');
CREATE TABLE window_last (window_start BIGINT, bidder STRING, seq BIGINT)
WITH ('connector' = 'file', 'path' = './out/window-last.jsonl');
CREATE TABLE over_rows (seq BIGINT, total BIGINT, n BIGINT, top BIGINT)
WITH ('connector' = 'file', 'path' = './out/over-rows.jsonl');
CREATE TABLE over_range (seq BIGINT, total BIGINT, low BIGINT, n BIGINT)
WITH ('connector' = 'file', 'path' = './out/over-range.jsonl');

CREATE VIEW activity AS
WITH cheap AS (SELECT auction, price, ts FROM bids WHERE price < 30)
SELECT auction, price, ts FROM cheap
UNION ALL
SELECT auction, price * 2, ts FROM (SELECT * FROM bids WHERE bidder = 'b3') AS third;

EXECUTE STATEMENT SET BEGIN
INSERT INTO spend
SELECT bidder, SUM(price) AS total, COUNT(DISTINCT auction) AS auctions,
  COUNT(*) FILTER (WHERE price >= 50) AS big, MAX(price) FILTER (WHERE auction <= 4) AS top_price
FROM bids GROUP BY bidder HAVING COUNT(*) >= 80 AND MIN(price) < 5;

INSERT INTO pairs SELECT DISTINCT auction, bidder FROM bids WHERE price > 90;

INSERT INTO merged
SELECT auction, window_start, COUNT(*) AS n, SUM(price) AS total
FROM TABLE(TUMBLE(TABLE activity, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY auction, window_start, window_end;

INSERT INTO top3
SELECT auction, seq, price, rn FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, seq) AS rn FROM bids
) WHERE rn <= 3;

INSERT INTO latest
SELECT bidder, seq, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY ts DESC) AS rn FROM bids
) WHERE rn = 1;

INSERT INTO sessions
SELECT auction, window_start, window_end, COUNT(*) AS n, SUM(price) AS total
FROM TABLE(SESSION(TABLE bids PARTITION BY auction, DESCRIPTOR(ts), INTERVAL '3' SECOND))
GROUP BY auction, window_start, window_end;

INSERT INTO running
SELECT window_start, window_end, COUNT(*) AS n, SUM(price) AS total
FROM TABLE(CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '20' SECOND))
GROUP BY window_start, window_end;

INSERT INTO hop_rows
SELECT seq, window_start, window_end
FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '15' SECOND))
WHERE price > 95;

INSERT INTO window_top
SELECT window_start, seq, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC, seq) AS rn
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
) WHERE rn <= 2;

INSERT INTO window_last
SELECT window_start, bidder, seq FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, bidder ORDER BY ts DESC) AS rn
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
) WHERE rn = 1;

INSERT INTO over_rows
SELECT seq, SUM(price) OVER w AS total, COUNT(*) OVER w AS n, MAX(price) OVER w AS top
FROM bids WHERE price > 10
WINDOW w AS (PARTITION BY auction ORDER BY ts ROWS BETWEEN 4 PRECEDING AND CURRENT ROW);

INSERT INTO over_range
SELECT seq,
  SUM(price) OVER (PARTITION BY bidder ORDER BY ts RANGE BETWEEN INTERVAL '30' SECOND PRECEDING AND CURRENT ROW) AS total,
  MIN(price) OVER (PARTITION BY bidder ORDER BY ts RANGE BETWEEN INTERVAL '30' SECOND PRECEDING AND CURRENT ROW) AS low,
  COUNT(*) OVER (PARTITION BY bidder ORDER BY ts RANGE BETWEEN INTERVAL '30' SECOND PRECEDING AND CURRENT ROW) AS n
FROM bids;
END;
`;

/** Each output file's table, as DuckDB computes it from `bids`. */
const oracleQueries: { readonly [file: string]: string } = {
  'spend.jsonl': `SELECT bidder, SUM(price) AS total, COUNT(DISTINCT auction) AS auctions,
      COUNT(*) FILTER (WHERE price >= 50) AS big, MAX(price) FILTER (WHERE auction <= 4) AS top_price
    FROM bids GROUP BY bidder HAVING COUNT(*) >= 80 AND MIN(price) < 5`,
  'pairs.jsonl': 'SELECT DISTINCT auction, bidder FROM bids WHERE price > 90',
  'merged.jsonl': `WITH activity AS (
      SELECT auction, price, ts FROM bids WHERE price < 30
      UNION ALL SELECT auction, price * 2, ts FROM bids WHERE bidder = 'b3')
    SELECT auction, ts - ts % 10000 AS window_start, COUNT(*) AS n, SUM(price) AS total
    FROM activity GROUP BY auction, ts - ts % 10000`,
  'top3.jsonl': `SELECT auction, seq, price, rn FROM (
      SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, seq) AS rn FROM bids)
    WHERE rn <= 3`,
  'latest.jsonl': `SELECT bidder, seq, price FROM (
      SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY ts DESC) AS rn FROM bids) WHERE rn = 1`,
  // A session closes when the next bid of its auction comes 3 s or more after the last.
  'sessions.jsonl': `WITH marked AS (
      SELECT *, CASE WHEN ts - LAG(ts) OVER (PARTITION BY auction ORDER BY ts) >= 3000 THEN 1 ELSE 0 END AS brk
      FROM bids),
    numbered AS (
      SELECT *, SUM(brk) OVER (PARTITION BY auction ORDER BY ts ROWS UNBOUNDED PRECEDING) AS session
      FROM marked)
    SELECT auction, MIN(ts) AS window_start, MAX(ts) + 3000 AS window_end, COUNT(*) AS n, SUM(price) AS total
    FROM numbered GROUP BY auction, session`,
  // Within each 20 s period, the windows [start, start + k·5 s) for k = 1..4 a bid falls in.
  'running.jsonl': `SELECT ws AS window_start, ws + k * 5000 AS window_end, COUNT(*) AS n, SUM(price) AS total
    FROM (SELECT *, ts - ts % 20000 AS ws FROM bids) AS b, range(1, 5) AS r(k)
    WHERE ts < ws + k * 5000 GROUP BY ws, k`,
  // Each bid in the three 15 s windows, 5 s apart, that hold it.
  'hop-rows.jsonl': `SELECT seq, ws AS window_start, ws + 15000 AS window_end
    FROM (SELECT seq, ts - ts % 5000 - j * 5000 AS ws FROM bids, range(0, 3) AS r(j) WHERE price > 95)`,
  'window-top.jsonl': `SELECT window_start, seq, price FROM (
      SELECT ts - ts % 10000 AS window_start, seq, price,
        ROW_NUMBER() OVER (PARTITION BY ts - ts % 10000 ORDER BY price DESC, seq) AS rn FROM bids)
    WHERE rn <= 2`,
  'window-last.jsonl': `SELECT window_start, bidder, seq FROM (
      SELECT ts - ts % 10000 AS window_start, bidder, seq,
        ROW_NUMBER() OVER (PARTITION BY ts - ts % 10000, bidder ORDER BY ts DESC) AS rn FROM bids)
    WHERE rn = 1`,
  'over-rows.jsonl': `SELECT seq, SUM(price) OVER w AS total, COUNT(*) OVER w AS n, MAX(price) OVER w AS top
    FROM bids WHERE price > 10
    WINDOW w AS (PARTITION BY auction ORDER BY ts ROWS BETWEEN 4 PRECEDING AND CURRENT ROW)`,
  'over-range.jsonl': `SELECT seq, SUM(price) OVER w AS total, MIN(price) OVER w AS low, COUNT(*) OVER w AS n
    FROM bids WINDOW w AS (PARTITION BY bidder ORDER BY ts RANGE BETWEEN 30000 PRECEDING AND CURRENT ROW)`,
};

/** Files whose output is a Debezium changelog, compared by the table it leaves. */
const CHANGELOGS = new Set(['spend.jsonl', 'top3.jsonl', 'latest.jsonl', 'window-top.jsonl']);

let dir: string;
let duck: DuckDBInstance;
let sql: DuckDBConnection;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-sql-oracle-'));
  const bids = generateBids();
  writeFileSync(join(dir, 'bids.jsonl'), `${bids.map((b) => JSON.stringify(b)).join('\n')}\n`);
  duck = await DuckDBInstance.create(':memory:');
  sql = await duck.connect();
  await sql.run(
    `CREATE TABLE bids AS SELECT * FROM read_json('${join(dir, 'bids.jsonl')}', format = 'newline_delimited')`,
  );
});

after(() => {
  sql?.closeSync();
  duck?.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

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
        } else out[name] = value as Row[string];
      }
      return rowText(out);
    })
    .sort();
}

test('HAVING, FILTER, DISTINCT, WITH, UNION ALL, SESSION, CUMULATE, top-N, deduplication and OVER aggregates give the tables DuckDB computes', async () => {
  const file = join(dir, 'query.sql');
  writeFileSync(file, script);
  await runPlan(resolveSql(script, file));
  const written = outputs(dir);
  const folded = finalTables(Object.fromEntries(Object.entries(written).filter(([f]) => CHANGELOGS.has(f))));
  for (const [name, query] of Object.entries(oracleQueries)) {
    const rows = CHANGELOGS.has(name)
      ? folded[name]
      : (written[name] ?? []).map((line) => rowText(JSON.parse(line) as Row));
    const actual = rows.map((r) => rowText(JSON.parse(r) as Row)).sort();
    const expected = await oracle(query);
    assert.ok(expected.length > 0, `${name}: the oracle gives no row, so the comparison would prove nothing`);
    assert.deepEqual(actual, expected, name);
  }
});
