-- A scalar function defined from TypeScript (count_char, Nexmark q14's, by defineFunction of
-- @sluice/core), named by CREATE FUNCTION as Flink's script names its Java class, beside Flink's
-- HOUR and SPLIT_INDEX.
CREATE TEMPORARY FUNCTION IF NOT EXISTS count_char AS 'com.github.nexmark.flink.udf.CountChar' LANGUAGE JAVA;

CREATE TABLE visits (id BIGINT, url STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './visits.jsonl', 'format' = 'json');

CREATE TABLE shaped (id BIGINT, slashes BIGINT, hour_of_day BIGINT, part STRING, kind STRING, dir1 STRING, dir4 STRING)
WITH ('connector' = 'file', 'path' = './out/shaped.jsonl');

INSERT INTO shaped
SELECT id, count_char(url, '/'), HOUR(ts), CASE WHEN HOUR(ts) < 12 THEN 'am' ELSE 'pm' END,
  CASE WHEN count_char(url, 'c') > 1 THEN 'c-heavy' ELSE 'plain' END,
  SPLIT_INDEX(url, '/', 3), SPLIT_INDEX(url, '/', 4)
FROM visits
WHERE count_char(url, '/') >= 3;
