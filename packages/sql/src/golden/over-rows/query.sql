-- OVER aggregates over a ROWS frame: each bid with the sum, average, count and highest price of
-- the last three bids of its auction (two preceding and itself), in event-time order. Rows wait
-- for the watermark and come out in time order (ties by arrival); the bid at 2500 arrives after
-- the watermark passed 3999 and is late (counted, not in the output). A NULL price counts in
-- COUNT(*) only.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE recent (auction BIGINT, ts BIGINT, price DOUBLE, total3 DOUBLE, avg3 DOUBLE,
  bids3 BIGINT, top3 DOUBLE)
WITH ('connector' = 'file', 'path' = './out/recent.jsonl');

INSERT INTO recent
SELECT auction, ts, price,
  SUM(price) OVER (PARTITION BY auction ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS total3,
  AVG(price) OVER (PARTITION BY auction ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS avg3,
  COUNT(*) OVER (PARTITION BY auction ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS bids3,
  MAX(price) OVER (PARTITION BY auction ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS top3
FROM bids;

-- Every bid before it in the whole stream (no PARTITION BY), by rows: ROWS UNBOUNDED PRECEDING,
-- the short form of ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW. Peers (two bids at 3000)
-- get different counts, unlike in a RANGE frame.
CREATE TABLE running (bidder STRING, ts BIGINT, n BIGINT, bidders BIGINT)
WITH ('connector' = 'file', 'path' = './out/running.jsonl');

INSERT INTO running
SELECT bidder, ts,
  COUNT(*) OVER (ORDER BY ts ROWS UNBOUNDED PRECEDING) AS n,
  COUNT(DISTINCT bidder) OVER (ORDER BY ts ROWS UNBOUNDED PRECEDING) AS bidders
FROM bids WHERE price IS NOT NULL;
