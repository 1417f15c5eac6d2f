-- Window top-N as Flink plans it: ROW_NUMBER() partitioned by window_start, window_end gives one
-- final, append-only result per window when the watermark passes its end, and the window's state
-- is dropped then. The bid at 8000 arrives after the bid at 16000 (with 1 s of out-of-orderness,
-- watermark 14999), when its window [0, 10000) has closed: it is late, in no result.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

-- The auction with the most bids in each 10-second window, over a window aggregation.
CREATE TABLE hot (window_start BIGINT, auction BIGINT, bids BIGINT)
WITH ('connector' = 'file', 'path' = './out/hot.jsonl');

CREATE VIEW per_auction AS
SELECT auction, window_start, window_end, COUNT(*) AS bids
FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY auction, window_start, window_end;

INSERT INTO hot
SELECT window_start, auction, bids FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY bids DESC, auction) AS rn
  FROM per_auction
) WHERE rn <= 1;

-- The two highest bids of each window with their rank, over TUMBLE's rows themselves (Flink's
-- window top-N on a window table function).
CREATE TABLE top_bid (window_start BIGINT, auction BIGINT, price DOUBLE, rn BIGINT)
WITH ('connector' = 'file', 'path' = './out/top-bid.jsonl');

INSERT INTO top_bid
SELECT window_start, auction, price, rn FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
) WHERE rn <= 2;

-- Window deduplication: each bidder's last bid of each window (ORDER BY the time column DESC,
-- rn = 1), once per window.
CREATE TABLE last_bid (window_start BIGINT, bidder STRING, auction BIGINT, ts BIGINT)
WITH ('connector' = 'file', 'path' = './out/last-bid.jsonl');

INSERT INTO last_bid
SELECT window_start, bidder, auction, ts FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, bidder ORDER BY ts DESC) AS rn
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
) WHERE rn = 1;
