CREATE TABLE bids (auction BIGINT, price DOUBLE) WITH ('connector' = 'file', 'path' = './bids.jsonl');
CREATE TABLE o (auction BIGINT) WITH ('connector' = 'file', 'path' = './o.jsonl');
EXPLAIN INSERT INTO o SELECT auction FROM bids;
