-- Flink's ROW_NUMBER() patterns: top-N (with and without the row number selected) and
-- deduplication by event time (first and last row per key) and by arrival (PROCTIME()).
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE top2 (auction BIGINT, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/top2.jsonl', 'changelog' = 'debezium');

CREATE TABLE ranked (auction BIGINT, rn BIGINT, bidder STRING, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/ranked.jsonl', 'changelog' = 'debezium');

CREATE TABLE latest (bidder STRING, auction BIGINT, price DOUBLE, ts BIGINT)
WITH ('connector' = 'file', 'path' = './out/latest.jsonl', 'changelog' = 'debezium');

CREATE TABLE opening (auction BIGINT, bidder STRING, price DOUBLE, ts BIGINT)
WITH ('connector' = 'file', 'path' = './out/opening.jsonl');

CREATE TABLE first_seen (bidder STRING, auction BIGINT)
WITH ('connector' = 'file', 'path' = './out/first-seen.jsonl');

INSERT INTO top2
SELECT auction, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bids
) WHERE rn <= 2;

INSERT INTO ranked
SELECT * FROM (
  SELECT auction, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn, bidder, price
  FROM bids
) AS r WHERE rn < 3;

INSERT INTO latest
SELECT bidder, auction, price, ts FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY ts DESC) AS rn FROM bids
) WHERE rn = 1;

INSERT INTO opening
SELECT auction, bidder, price, ts FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY ts ASC) AS rn FROM bids
) WHERE rn = 1;

INSERT INTO first_seen
SELECT bidder, auction FROM (
  SELECT bidder, auction, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY PROCTIME()) AS rn FROM bids
) WHERE rn = 1;
