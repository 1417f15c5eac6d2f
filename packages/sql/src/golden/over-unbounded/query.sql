-- OVER aggregates from the first row: with no frame (Flink's default, RANGE BETWEEN UNBOUNDED
-- PRECEDING AND CURRENT ROW) the peers at 3000 share one result; the state of each auction would
-- be kept forever, so 'table.exec.state.ttl' gives the step a ttl (as EXPLAIN notes). The outer
-- query filters on an aggregate, reading the subquery's rows.
SET 'table.exec.state.ttl' = '1 h';

CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE so_far (auction BIGINT, ts BIGINT, price DOUBLE, total DOUBLE, highest DOUBLE)
WITH ('connector' = 'file', 'path' = './out/so-far.jsonl');

INSERT INTO so_far
SELECT auction, ts, price, total, highest FROM (
  SELECT *,
    SUM(price) OVER (PARTITION BY auction ORDER BY ts) AS total,
    MAX(price) OVER (PARTITION BY auction ORDER BY ts
      RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS highest
  FROM bids
) WHERE total > 2;
