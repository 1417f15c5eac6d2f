CREATE TABLE bids (auction BIGINT, price DOUBLE)
WITH ('connector' = 'file', 'path' = './bids.jsonl')
INSERT INTO out_t SELECT * FROM bids;
