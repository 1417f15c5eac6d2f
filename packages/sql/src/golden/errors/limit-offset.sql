CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT auction FROM bids LIMIT 3 OFFSET 2;
