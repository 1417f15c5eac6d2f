-- A named window: WINDOW w AS (…) after the query's clauses, and several aggregates OVER w, as
-- in Flink's documentation. SELECT * keeps every column of the table.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE stats (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT, sum_price DOUBLE,
  avg_price DOUBLE, last_bidder STRING)
WITH ('connector' = 'file', 'path' = './out/stats.jsonl');

INSERT INTO stats
SELECT *, SUM(price) OVER w AS sum_price, AVG(price) OVER w AS avg_price,
  LAST_VALUE(bidder) OVER w AS last_bidder
FROM bids
WHERE bidder <> 'eve'
WINDOW w AS (PARTITION BY auction ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW);
