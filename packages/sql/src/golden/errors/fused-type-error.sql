-- A type error in a view whose filter the planner would fuse with the query's: reported where it is written.
CREATE TABLE t (a BIGINT, s STRING) WITH ('connector' = 'file', 'path' = './in.jsonl');
CREATE VIEW v AS SELECT a, s AS u FROM t
  WHERE a > 'b' + 1;
CREATE TABLE o (a BIGINT, u STRING) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO o SELECT a, u FROM v WHERE a > 2;
