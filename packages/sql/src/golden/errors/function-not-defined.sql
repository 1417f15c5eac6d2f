CREATE FUNCTION count_chars AS 'com.github.nexmark.flink.udf.CountChar';
CREATE TABLE visits (id BIGINT, url STRING)
WITH ('connector' = 'file', 'path' = './visits.jsonl', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, n BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT id, count_chars(url, '/') FROM visits;
