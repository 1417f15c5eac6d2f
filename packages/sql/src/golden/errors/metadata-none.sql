CREATE TABLE t (a BIGINT, p INT METADATA FROM 'partition' VIRTUAL)
WITH ('connector' = 'file', 'path' = './in.jsonl');
CREATE TABLE o (a BIGINT, p INT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO o SELECT a, p FROM t;
