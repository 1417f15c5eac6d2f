-- GROUP BY without a window: a result per bidder, updated with each bid, written as upserts by
-- the grouped column ('key' is the file sink's own option, a list written as text).
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE spend (bidder STRING, bids BIGINT, total DOUBLE)
WITH ('connector' = 'file', 'path' = './out/spend.jsonl', 'changelog' = 'upsert', 'key' = 'bidder');

INSERT INTO spend
SELECT bidder, count(*) AS bids, sum(price) AS total
FROM bids
GROUP BY bidder;
