-- ROW_NUMBER() over a join, as Nexmark q9 writes it: each auction (A.*) with its highest bid
-- within its lifetime, of equal prices the earliest. The OVER clause names the join's columns by
-- table (A.id, B.price, B.ts), which are the columns the inner query selects (B.ts AS bid_ts).
CREATE TABLE bids (auction BIGINT, bidder STRING, price BIGINT, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE auctions (id BIGINT, item STRING, ts BIGINT, expires BIGINT)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');

CREATE TABLE winners (id BIGINT, item STRING, ts BIGINT, expires BIGINT, bidder STRING, price BIGINT, bid_ts BIGINT)
WITH ('connector' = 'file', 'path' = './out/winners.jsonl', 'changelog' = 'debezium');

INSERT INTO winners
SELECT id, item, ts, expires, bidder, price, bid_ts
FROM (
  SELECT A.*, B.bidder, B.price, B.ts AS bid_ts,
    ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.ts ASC) AS rownum
  FROM auctions A, bids B
  WHERE A.id = B.auction AND B.ts BETWEEN A.ts AND A.expires
)
WHERE rownum <= 1;
