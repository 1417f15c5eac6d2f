-- The key declared must cover the key of the updating result: rows of one 'a' would overwrite each other.
CREATE TABLE t (a BIGINT, b DOUBLE) WITH ('connector' = 'file', 'path' = './in.jsonl');
CREATE TABLE o (a BIGINT, b DOUBLE, n BIGINT, PRIMARY KEY (b) NOT ENFORCED)
WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO o SELECT a, max(b), count(*) FROM t GROUP BY a;
