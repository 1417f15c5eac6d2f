CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE people (name STRING, city STRING)
WITH ('connector' = 'file', 'path' = './people.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, city STRING) WITH ('connector' = 'file', 'path' = './out.jsonl', 'changelog' = 'debezium');
INSERT INTO out_t
SELECT b.auction, p.city FROM bids b LEFT JOIN people p ON b.bidder = p.name
ORDER BY auction LIMIT 5;
