CREATE TABLE bids (auction BIGINT, price DOUBLE, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE o (auction BIGINT, window_start BIGINT) WITH ('connector' = 'file', 'path' = './o.jsonl');
INSERT INTO o SELECT auction, window_start
FROM TABLE(SESSION(TABLE bids PARTITION BY auction, DESCRIPTOR(ts), INTERVAL '5' SECOND));
