CREATE TABLE clicks (id BIGINT, pt AS PROCTIME())
WITH ('connector' = 'file', 'path' = './clicks.jsonl', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, pt BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT id, pt FROM clicks ORDER BY pt DESC;
