CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, total DOUBLE) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT auction, SUM(prize) OVER (PARTITION BY auction ORDER BY ts) AS total FROM bids;
