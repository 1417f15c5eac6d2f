CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE VIEW named AS SELECT auction, bidder AS who FROM bids;
CREATE TABLE out_t (auction BIGINT, n DOUBLE) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t
SELECT auction, price FROM bids
UNION
SELECT auction, who FROM named;
