-- Revenue over 10-second windows every 5 seconds, of bids above 1, with the window first and
-- the sink's own column names (INSERT writes by position, as in Flink); window_time is window_end - 1.
CREATE TABLE bids (
  auction BIGINT,
  price DOUBLE,
  bidder STRING,
  ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE revenue (from_ms BIGINT, to_ms BIGINT, last_ms BIGINT, revenue DOUBLE, bidders BIGINT)
WITH ('connector' = 'file', 'path' = './out/revenue.jsonl');

INSERT INTO revenue
SELECT window_start, window_end, window_time, round(sum(price), 2) AS revenue, count(DISTINCT bidder) AS bidders
FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
WHERE price > 1
GROUP BY window_start, window_end;
