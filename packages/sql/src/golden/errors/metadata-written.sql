CREATE TABLE t (a BIGINT) WITH ('connector' = 'file', 'path' = './in.jsonl');
CREATE TABLE o (a BIGINT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp')
WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO o SELECT a FROM t;
