-- OVER aggregates over a RANGE frame: each bid with the bids of its auction in the 2 seconds
-- up to its time, bound included. The two bids of auction 1 at 3000 are peers: each is in the
-- other's frame, and both get one result. The bid at 2500 is late and left out. A frame
-- forgets its rows as the watermark passes them.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE windowed (auction BIGINT, bidder STRING, ts BIGINT, total DOUBLE, bids BIGINT,
  lowest DOUBLE, first_bidder STRING)
WITH ('connector' = 'file', 'path' = './out/windowed.jsonl');

INSERT INTO windowed
SELECT auction, bidder, ts,
  SUM(price) OVER (PARTITION BY auction ORDER BY ts
    RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW) AS total,
  COUNT(*) OVER (PARTITION BY auction ORDER BY ts
    RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW) AS bids,
  MIN(price) OVER (PARTITION BY auction ORDER BY ts
    RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW) AS lowest,
  FIRST_VALUE(bidder) OVER (PARTITION BY auction ORDER BY ts
    RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW) AS first_bidder
FROM bids;
