CREATE TABLE bids (auction BIGINT, price BIGINT, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE auctions (id BIGINT, ts BIGINT)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, price BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl', 'changelog' = 'debezium');
INSERT INTO out_t
SELECT id, price FROM (
  SELECT A.id, B.price, ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.ts DESC) AS rn
  FROM auctions A JOIN bids B ON A.id = B.auction
)
WHERE rn <= 1;
