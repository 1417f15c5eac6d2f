CREATE TABLE t (a BIGINT, b DOUBLE, PRIMARY KEY (a) NOT ENFORCED)
WITH ('connector' = 'file', 'path' = './in.jsonl');
CREATE TABLE o (a BIGINT, b DOUBLE) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO o SELECT a, b FROM t;
