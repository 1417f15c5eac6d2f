CREATE TABLE bids (auction BIGINT, price BIGINT, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE auctions (id BIGINT, ts BIGINT)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, price BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t
SELECT A.id, B.price
FROM auctions A, bids B
WHERE B.ts > A.ts;
