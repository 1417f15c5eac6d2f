-- UNION (distinct): the auctions and prices that bids and offers name, each pair once, as Flink
-- plans it (UNION ALL, then a distinct by all columns: here a `deduplicate` keeping each row's
-- first arrival, append-only). Three queries in one chain; a mixed chain (UNION then UNION ALL),
-- left-associative: the UNION's rows, then every offer of item 4 again; and UNION DISTINCT.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE offers (item BIGINT, amount DOUBLE, who STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './offers.jsonl', 'format' = 'json');

CREATE TABLE pairs (auction BIGINT, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/pairs.jsonl');

CREATE TABLE mixed (auction BIGINT, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/mixed.jsonl');

CREATE TABLE people (name STRING)
WITH ('connector' = 'file', 'path' = './out/people.jsonl');

INSERT INTO pairs
SELECT auction, price FROM bids
UNION
SELECT item, amount FROM offers WHERE who <> 'zed'
UNION
SELECT auction, price FROM bids WHERE price > 11;

INSERT INTO mixed
SELECT auction, price FROM bids
UNION
SELECT item, amount FROM offers
UNION ALL
SELECT item, amount FROM offers WHERE item = 4;

INSERT INTO people
SELECT bidder FROM bids UNION DISTINCT SELECT who AS bidder FROM offers;
