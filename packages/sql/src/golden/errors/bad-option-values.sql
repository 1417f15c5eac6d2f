CREATE TABLE bids (auction BIGINT) WITH ('connector' = 'file', 'path' = './bids.jsonl', 'header' = 'maybe', 'format' = 'csv');
CREATE TABLE out_t (auction BIGINT) WITH ('connector' = 'fil', 'path' = './out.jsonl');
INSERT INTO out_t SELECT * FROM bids;
