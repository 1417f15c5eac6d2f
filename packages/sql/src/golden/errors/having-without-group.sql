CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, n BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl', 'changelog' = 'debezium');
INSERT INTO out_t SELECT auction, price AS n
FROM bids
HAVING price > 1;
