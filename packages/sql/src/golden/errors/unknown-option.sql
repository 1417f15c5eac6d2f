CREATE TABLE bids (auction BIGINT) WITH ('connector' = 'file', 'path' = './bids.jsonl', 'formt' = 'json');
CREATE TABLE out_t (auction BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT * FROM bids;
