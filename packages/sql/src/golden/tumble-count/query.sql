-- Bids and the top price per auction in 10-second tumbling windows.
CREATE TABLE bids (
  auction BIGINT,
  price DOUBLE,
  bidder STRING,
  ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE per_auction (auction BIGINT, window_start BIGINT, window_end BIGINT, bids BIGINT, top DOUBLE)
WITH ('connector' = 'file', 'path' = './out/per-auction.jsonl');

INSERT INTO per_auction
SELECT auction, window_start, window_end, COUNT(*) AS bids, max(price) AS top
FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY auction, window_start, window_end;
