-- Quantifiers, alternation, PREV and WITHIN over one ticker (examples of Flink's documentation,
-- and more). Greedy B* swallows every row it can (one match, last price 16); reluctant B*? stops
-- at the first row C accepts (13, then 16). {n}, {n,m}, {,m} and ? bound a variable's rows;
-- (UP | FLAT) takes either; PREV(price) is the row before in the match; WITHIN drops a match
-- whose rows span more than the interval from its first.
CREATE TABLE ticker (
  symbol STRING,
  price BIGINT,
  rowtime BIGINT,
  WATERMARK FOR rowtime AS rowtime - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './ticker.jsonl', 'format' = 'json');

CREATE TABLE greedy (symbol STRING, last_price BIGINT) WITH ('connector' = 'file', 'path' = './out/greedy.jsonl');
CREATE TABLE reluctant (symbol STRING, last_price BIGINT) WITH ('connector' = 'file', 'path' = './out/reluctant.jsonl');
CREATE TABLE bounded (symbol STRING, first_price BIGINT, ups BIGINT, flats BIGINT, last_price BIGINT)
WITH ('connector' = 'file', 'path' = './out/bounded.jsonl');
CREATE TABLE steps (symbol STRING, start_price BIGINT, end_price BIGINT, n BIGINT)
WITH ('connector' = 'file', 'path' = './out/steps.jsonl');
CREATE TABLE lows (symbol STRING, lows BIGINT, high BIGINT)
WITH ('connector' = 'file', 'path' = './out/lows.jsonl');
CREATE TABLE drops (symbol STRING, drop_time BIGINT, drop_diff BIGINT)
WITH ('connector' = 'file', 'path' = './out/drops.jsonl');

EXECUTE STATEMENT SET
BEGIN
INSERT INTO greedy
SELECT * FROM ticker MATCH_RECOGNIZE (
  PARTITION BY symbol ORDER BY rowtime
  MEASURES C.price AS last_price
  AFTER MATCH SKIP PAST LAST ROW
  PATTERN (A B* C)
  DEFINE A AS A.price > 10, B AS B.price < 15, C AS C.price > 12);
INSERT INTO reluctant
SELECT * FROM ticker MATCH_RECOGNIZE (
  PARTITION BY symbol ORDER BY rowtime
  MEASURES C.price AS last_price
  AFTER MATCH SKIP PAST LAST ROW
  PATTERN (A B*? C)
  DEFINE A AS A.price > 10, B AS B.price < 15, C AS C.price > 12);
-- A start, one or two rises or (reluctantly) one to three flat rows, then at most one row, and a last one of 20 or more.
INSERT INTO bounded
SELECT * FROM ticker MATCH_RECOGNIZE (
  PARTITION BY symbol ORDER BY rowtime
  MEASURES FIRST(S.price) AS first_price, COUNT(UP.price) AS ups, COUNT(FLAT.price) AS flats, E.price AS last_price
  AFTER MATCH SKIP PAST LAST ROW
  PATTERN (S (UP{1,2} | FLAT{1,3}?) X? E)
  DEFINE UP AS UP.price > PREV(UP.price), FLAT AS FLAT.price = PREV(FLAT.price), E AS E.price >= 20);
-- Exactly three rows, each above the one before, PREV counted within the match.
INSERT INTO steps
SELECT * FROM ticker MATCH_RECOGNIZE (
  PARTITION BY symbol ORDER BY rowtime
  MEASURES FIRST(R.price) AS start_price, LAST(R.price) AS end_price, COUNT(*) AS n
  AFTER MATCH SKIP TO NEXT ROW
  PATTERN (R{3})
  DEFINE R AS PREV(R.price) IS NULL OR R.price > PREV(R.price, 1));
-- At most two rows under 10 (greedy {,2}: as many as it can), then one of 10 or more.
INSERT INTO lows
SELECT * FROM ticker MATCH_RECOGNIZE (
  PARTITION BY symbol ORDER BY rowtime
  MEASURES COUNT(L.price) AS lows, H.price AS high
  PATTERN (L{,2} H)
  DEFINE L AS L.price < 10, H AS H.price >= 10);
-- A drop of more than 10 within 1 hour of the first row (Flink's WITHIN example).
INSERT INTO drops
SELECT * FROM ticker MATCH_RECOGNIZE (
  PARTITION BY symbol ORDER BY rowtime
  MEASURES C.rowtime AS drop_time, A.price - C.price AS drop_diff
  ONE ROW PER MATCH
  AFTER MATCH SKIP PAST LAST ROW
  PATTERN (A B* C) WITHIN INTERVAL '1' HOUR
  DEFINE B AS B.price > A.price - 10, C AS C.price < A.price - 10);
END;
