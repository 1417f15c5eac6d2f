CREATE TABLE clicks (id BIGINT, page STRING, pt AS PROCTIME(), WATERMARK FOR pt AS pt - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './clicks.jsonl', 'format' = 'json');
CREATE TABLE out_t (id BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT id FROM clicks;
