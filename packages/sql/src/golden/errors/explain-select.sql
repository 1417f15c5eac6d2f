CREATE TABLE bids (auction BIGINT, price DOUBLE) WITH ('connector' = 'file', 'path' = './bids.jsonl');
EXPLAIN
  SELECT auction FROM bids;
