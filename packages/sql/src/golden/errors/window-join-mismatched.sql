-- A window join joins rows of the same windows: a 5-minute TUMBLE cannot be joined on its
-- bounds with a 10-minute one (Flink refuses it too).
CREATE TABLE lefts (id STRING, num BIGINT, row_time BIGINT,
  WATERMARK FOR row_time AS row_time - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './left.jsonl', 'format' = 'json');
CREATE TABLE rights (id STRING, num BIGINT, row_time BIGINT,
  WATERMARK FOR row_time AS row_time - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './right.jsonl', 'format' = 'json');
CREATE TABLE pairs (l_id STRING, r_id STRING) WITH ('connector' = 'file', 'path' = './out/pairs.jsonl');

INSERT INTO pairs
SELECT L.id, R.id
FROM (SELECT * FROM TABLE(TUMBLE(TABLE lefts, DESCRIPTOR(row_time), INTERVAL '5' MINUTES))) L
JOIN (SELECT * FROM TABLE(TUMBLE(TABLE rights, DESCRIPTOR(row_time), INTERVAL '10' MINUTES))) R
  ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end;
