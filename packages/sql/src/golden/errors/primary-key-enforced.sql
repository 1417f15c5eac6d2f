CREATE TABLE t (a BIGINT, b DOUBLE) WITH ('connector' = 'file', 'path' = './in.jsonl');
CREATE TABLE o (a BIGINT, n BIGINT, PRIMARY KEY (a)) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO o SELECT a, count(*) FROM t GROUP BY a;
