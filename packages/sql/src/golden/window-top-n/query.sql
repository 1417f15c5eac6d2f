-- The auction with the most bids in each 10-second window: ROW_NUMBER() partitioned by the
-- window over a window aggregation. The engine has no window top-N, so this is the updating
-- top_n keyed by the window; the table its changelog leaves (compared, as the order in which a
-- window's results reach it is not fixed) holds each window's top row.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE hot (window_start BIGINT, auction BIGINT, bids BIGINT)
WITH ('connector' = 'file', 'path' = './out/hot.jsonl', 'changelog' = 'debezium');

CREATE VIEW per_auction AS
SELECT auction, window_start, window_end, COUNT(*) AS bids
FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY auction, window_start, window_end;

INSERT INTO hot
SELECT window_start, auction, bids FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY bids DESC, auction) AS rn
  FROM per_auction
) WHERE rn <= 1;

-- The highest bid of each window, ranked over TUMBLE's rows themselves (Flink's window top-N on
-- a window table function).
CREATE TABLE top_bid (window_start BIGINT, auction BIGINT, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/top-bid.jsonl', 'changelog' = 'debezium');

INSERT INTO top_bid
SELECT window_start, auction, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
) WHERE rn <= 1;
