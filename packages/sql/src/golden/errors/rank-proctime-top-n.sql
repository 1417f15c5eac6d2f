CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, price DOUBLE) WITH ('connector' = 'file', 'path' = './out.jsonl', 'changelog' = 'debezium');
INSERT INTO out_t SELECT auction, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY PROCTIME()) AS rn FROM bids
) WHERE rn <= 3;
