CREATE TABLE clicks (id BIGINT, pt AS PROCTIME(), pt2 AS PROCTIME())
WITH ('connector' = 'file', 'path' = './clicks.jsonl', 'format' = 'json');
CREATE TABLE out_t (id BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT id FROM clicks;
