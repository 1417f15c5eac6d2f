-- The longest runs whose average price stays below 15, per symbol (Flink's aggregation example):
-- AVG in DEFINE is over A's rows so far, the current one included; the measures aggregate over
-- a variable's rows (AVG, SUM, MIN, MAX, COUNT of a column) and over every row of the match
-- (COUNT(*), SUM of an unqualified column); MATCH_ROWTIME(rowtime) (or MATCH_ROWTIME()) is the time of the match's last row.
CREATE TABLE ticker (
  symbol STRING,
  price BIGINT,
  tax BIGINT,
  rowtime BIGINT,
  WATERMARK FOR rowtime AS rowtime - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './ticker.jsonl', 'format' = 'json');

CREATE TABLE runs (
  symbol STRING, start_tstamp BIGINT, end_tstamp BIGINT, avg_price DOUBLE, total BIGINT, low BIGINT,
  high BIGINT, taxed BIGINT, a_rows BIGINT, all_rows BIGINT, all_price BIGINT, matched_at BIGINT
) WITH ('connector' = 'file', 'path' = './out/runs.jsonl');

INSERT INTO runs
SELECT *
FROM ticker
  MATCH_RECOGNIZE (
    PARTITION BY symbol
    ORDER BY rowtime
    MEASURES
      FIRST(A.rowtime) AS start_tstamp,
      LAST(A.rowtime) AS end_tstamp,
      AVG(A.price) AS avg_price,
      SUM(A.price) AS total,
      MIN(A.price) AS low,
      MAX(A.price) AS high,
      SUM(A.price * A.tax) AS taxed,
      COUNT(A.price) AS a_rows,
      COUNT(*) AS all_rows,
      SUM(price) AS all_price,
      MATCH_ROWTIME(rowtime) AS matched_at
    ONE ROW PER MATCH
    AFTER MATCH SKIP PAST LAST ROW
    PATTERN (A+ B)
    DEFINE
      A AS AVG(A.price) < 15
  ) MR;
