CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, p DOUBLE) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT auction, price AS p FROM bids ORDER BY prise DESC LIMIT 3;
