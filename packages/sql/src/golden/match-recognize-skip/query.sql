-- One pattern, four AFTER MATCH strategies (the example of Flink's documentation): A+ while the
-- sum of A's prices stays below 30, then any row C. SKIP PAST LAST ROW lets no row be in two
-- matches; SKIP TO NEXT ROW tries every start; SKIP TO LAST A and SKIP TO FIRST C resume inside the match.
CREATE TABLE ticker (
  symbol STRING,
  price BIGINT,
  tax BIGINT,
  rowtime BIGINT,
  WATERMARK FOR rowtime AS rowtime - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './ticker.jsonl', 'format' = 'json');

CREATE TABLE past_last (symbol STRING, sum_price BIGINT, start_time BIGINT, end_time BIGINT)
WITH ('connector' = 'file', 'path' = './out/past-last-row.jsonl');
CREATE TABLE next_row (symbol STRING, sum_price BIGINT, start_time BIGINT, end_time BIGINT)
WITH ('connector' = 'file', 'path' = './out/to-next-row.jsonl');
CREATE TABLE last_a (symbol STRING, sum_price BIGINT, start_time BIGINT, end_time BIGINT)
WITH ('connector' = 'file', 'path' = './out/to-last-a.jsonl');
CREATE TABLE first_c (symbol STRING, sum_price BIGINT, start_time BIGINT, end_time BIGINT)
WITH ('connector' = 'file', 'path' = './out/to-first-c.jsonl');

EXECUTE STATEMENT SET
BEGIN
INSERT INTO past_last
SELECT * FROM ticker MATCH_RECOGNIZE (
  PARTITION BY symbol ORDER BY rowtime
  MEASURES SUM(A.price) AS sum_price, FIRST(rowtime) AS start_time, LAST(rowtime) AS end_time
  ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
  PATTERN (A+ C) DEFINE A AS SUM(A.price) < 30);
INSERT INTO next_row
SELECT * FROM ticker MATCH_RECOGNIZE (
  PARTITION BY symbol ORDER BY rowtime
  MEASURES SUM(A.price) AS sum_price, FIRST(rowtime) AS start_time, LAST(rowtime) AS end_time
  ONE ROW PER MATCH AFTER MATCH SKIP TO NEXT ROW
  PATTERN (A+ C) DEFINE A AS SUM(A.price) < 30);
INSERT INTO last_a
SELECT * FROM ticker MATCH_RECOGNIZE (
  PARTITION BY symbol ORDER BY rowtime
  MEASURES SUM(A.price) AS sum_price, FIRST(rowtime) AS start_time, LAST(rowtime) AS end_time
  ONE ROW PER MATCH AFTER MATCH SKIP TO LAST A
  PATTERN (A+ C) DEFINE A AS SUM(A.price) < 30);
INSERT INTO first_c
SELECT * FROM ticker MATCH_RECOGNIZE (
  PARTITION BY symbol ORDER BY rowtime
  MEASURES SUM(A.price) AS sum_price, FIRST(rowtime) AS start_time, LAST(rowtime) AS end_time
  ONE ROW PER MATCH AFTER MATCH SKIP TO FIRST C
  PATTERN (A+ C) DEFINE A AS SUM(A.price) < 30);
END;
