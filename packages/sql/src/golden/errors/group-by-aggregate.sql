CREATE TABLE bids (auction BIGINT, price BIGINT, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (n BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl', 'changelog' = 'debezium');
INSERT INTO out_t SELECT count(*) AS n
FROM bids
GROUP BY max(price) / 2;
