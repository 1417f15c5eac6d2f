CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, n BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl', 'changelog' = 'debezium');
INSERT INTO out_t
SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction
UNION
SELECT auction, 0 FROM bids;
