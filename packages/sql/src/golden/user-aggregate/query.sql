-- User-defined aggregate functions (defineAggregateFunction from TypeScript; CREATE FUNCTION only
-- names one) in a window aggregate, an updating GROUP BY and an OVER aggregate: geo_mean(v)
-- (its add throws on 0: that record goes to the dead letters, in no aggregate) and longest(name).
CREATE FUNCTION geo_mean AS 'com.example.GeoMean';
CREATE TEMPORARY FUNCTION longest AS 'com.example.Longest' LANGUAGE JAVA;

CREATE TABLE readings (k STRING, v DOUBLE, name STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './readings.jsonl', 'format' = 'json');

CREATE TABLE per_window (k STRING, window_start BIGINT, g DOUBLE, l STRING)
WITH ('connector' = 'file', 'path' = './out/per-window.jsonl');
CREATE TABLE per_key (k STRING, g DOUBLE, l STRING)
WITH ('connector' = 'file', 'path' = './out/per-key.jsonl', 'changelog' = 'debezium');
CREATE TABLE running (k STRING, ts BIGINT, g DOUBLE)
WITH ('connector' = 'file', 'path' = './out/running.jsonl');

INSERT INTO per_window
SELECT k, window_start, geo_mean(v) AS g, longest(name) AS l
FROM TABLE(TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY k, window_start, window_end;

INSERT INTO per_key SELECT k, geo_mean(v), longest(name) FROM readings GROUP BY k;

INSERT INTO running
SELECT k, ts, geo_mean(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
FROM readings WHERE v > 0;
