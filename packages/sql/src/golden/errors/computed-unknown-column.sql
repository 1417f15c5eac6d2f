CREATE TABLE bids (auction BIGINT, price DOUBLE, total AS price * qty) WITH ('connector' = 'file', 'path' = './bids.jsonl');
CREATE TABLE o (auction BIGINT) WITH ('connector' = 'file', 'path' = './o.jsonl');
INSERT INTO o SELECT auction FROM bids;
