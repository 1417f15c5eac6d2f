-- HAVING over windowed and updating aggregates, aggregate FILTER (WHERE …), COUNT(DISTINCT …),
-- Flink's FIRST_VALUE/LAST_VALUE (the engine's first/last), and SELECT DISTINCT.
CREATE TABLE bids (
  auction BIGINT,
  price DOUBLE,
  bidder STRING,
  ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE busy (auction BIGINT, window_start BIGINT, bids BIGINT, bidders BIGINT, big BIGINT,
  ann_total DOUBLE, opener STRING, closing DOUBLE)
WITH ('connector' = 'file', 'path' = './out/busy.jsonl');

CREATE TABLE pairs (auction BIGINT, bidder STRING)
WITH ('connector' = 'file', 'path' = './out/pairs.jsonl');

CREATE TABLE spenders (bidder STRING, total DOUBLE)
WITH ('connector' = 'file', 'path' = './out/spenders.jsonl', 'changelog' = 'debezium');

EXECUTE STATEMENT SET BEGIN

INSERT INTO busy
SELECT auction, window_start, COUNT(*) AS bids, COUNT(DISTINCT bidder) AS bidders,
  COUNT(*) FILTER (WHERE price >= 10) AS big,
  SUM(price) FILTER (WHERE bidder = 'ann') AS ann_total,
  FIRST_VALUE(bidder) AS opener, LAST_VALUE(price) AS closing
FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY auction, window_start, window_end
HAVING COUNT(*) >= 2 OR MAX(price) > 25;

INSERT INTO pairs
SELECT DISTINCT auction, bidder FROM bids WHERE price > 1;

INSERT INTO spenders
SELECT bidder, SUM(price) AS total FROM bids GROUP BY bidder HAVING SUM(price) > 15;

END;
