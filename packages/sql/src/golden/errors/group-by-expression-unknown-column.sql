CREATE TABLE bids (auction BIGINT, price BIGINT, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (d STRING, n BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl', 'changelog' = 'debezium');
INSERT INTO out_t SELECT DATE_FORMAT(tss, 'yyyy-MM-dd') AS d, count(*) AS n
FROM bids
GROUP BY DATE_FORMAT(tss, 'yyyy-MM-dd');
