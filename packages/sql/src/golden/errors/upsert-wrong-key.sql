CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE spend (auction BIGINT, total DOUBLE)
WITH ('connector' = 'file', 'path' = './out/spend.jsonl', 'changelog' = 'upsert', 'key' = 'bidder');
INSERT INTO spend SELECT auction, sum(price) AS total FROM bids GROUP BY auction;
