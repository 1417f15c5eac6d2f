-- ROW_NUMBER() in a view and in a WITH common table, filtered by the query that reads it: the
-- same top-N and deduplication patterns as with a subquery.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE best (auction BIGINT, bidder STRING, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/best.jsonl', 'changelog' = 'debezium');

CREATE TABLE last_bid (bidder STRING, price DOUBLE, ts BIGINT)
WITH ('connector' = 'file', 'path' = './out/last-bid.jsonl', 'changelog' = 'debezium');

CREATE VIEW ranked AS
SELECT auction, bidder, price, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn
FROM bids;

INSERT INTO best SELECT auction, bidder, price FROM ranked WHERE rn = 1;

INSERT INTO last_bid
WITH numbered AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY ts DESC) AS rn FROM bids
)
SELECT bidder, price, ts FROM numbered WHERE rn = 1;
