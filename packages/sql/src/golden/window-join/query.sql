-- Window joins (Flink's form): the rows of two window table functions with the same windows,
-- joined on the windows' bounds and a key. Each window's pairs are written once, when the
-- watermark passes its end, and its state is dropped then. A FULL OUTER JOIN also writes, at
-- that time, the rows of either side that found no partner in their window, with NULL for the
-- other side and its bounds (hence COALESCE). A NULL key matches nothing.
CREATE TABLE lefts (id STRING, num BIGINT, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './left.jsonl', 'format' = 'json');

CREATE TABLE rights (id STRING, num BIGINT, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './right.jsonl', 'format' = 'json');

CREATE TABLE pairs (l_id STRING, r_id STRING, num BIGINT, window_start BIGINT, window_end BIGINT)
WITH ('connector' = 'file', 'path' = './out/pairs.jsonl');

CREATE TABLE everyone (l_num BIGINT, l_id STRING, r_num BIGINT, r_id STRING,
  window_start BIGINT, window_end BIGINT, l_start BIGINT, r_time BIGINT)
WITH ('connector' = 'file', 'path' = './out/everyone.jsonl');

INSERT INTO pairs
SELECT L.id, R.id, L.num, L.window_start, L.window_end
FROM (SELECT * FROM TABLE(TUMBLE(TABLE lefts, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L
JOIN (SELECT id, num, window_start, window_end FROM TABLE(TUMBLE(TABLE rights, DESCRIPTOR(ts), INTERVAL '5' SECOND))) R
  ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end;

INSERT INTO everyone
SELECT L.num AS l_num, L.id AS l_id, R.num AS r_num, R.id AS r_id,
       COALESCE(L.window_start, R.window_start) AS window_start,
       COALESCE(L.window_end, R.window_end) AS window_end,
       L.window_start AS l_start, R.window_time AS r_time
FROM (SELECT * FROM TABLE(TUMBLE(TABLE lefts, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L
FULL OUTER JOIN (SELECT * FROM TABLE(TUMBLE(TABLE rights, DESCRIPTOR(ts), INTERVAL '5' SECOND))) R
  ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end;
