CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, n STRING) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t
SELECT auction, bidder FROM bids
UNION ALL
SELECT auction, 'x' FROM bids
UNION ALL
SELECT auction, TRUE FROM bids;
