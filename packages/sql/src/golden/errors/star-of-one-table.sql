CREATE TABLE bids (auction BIGINT, price BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, price BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t
SELECT b.* FROM bids b;
