CREATE TABLE clicks (`user` STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './clicks.jsonl', 'format' = 'json');
CREATE TABLE out_t (`user` STRING, ts BIGINT, n BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl', 'changelog' = 'debezium');
INSERT INTO out_t
SELECT *, count(*) AS n FROM clicks GROUP BY `user`, ts;
