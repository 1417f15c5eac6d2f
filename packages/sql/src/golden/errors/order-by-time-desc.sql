CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, ts BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT auction, ts FROM bids ORDER BY ts DESC, auction;
