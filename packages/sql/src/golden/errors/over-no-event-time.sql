CREATE TABLE bids (auction BIGINT, price DOUBLE, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, total DOUBLE) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT auction, SUM(price) OVER (PARTITION BY auction ORDER BY ts) AS total FROM bids;
