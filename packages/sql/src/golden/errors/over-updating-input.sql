CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, total DOUBLE) WITH ('connector' = 'file', 'path' = './out.jsonl');
CREATE VIEW per_auction AS SELECT auction, SUM(price) AS price, MAX(ts) AS ts FROM bids GROUP BY auction;
INSERT INTO out_t SELECT auction, SUM(price) OVER (PARTITION BY auction ORDER BY PROCTIME()) AS total FROM per_auction;
