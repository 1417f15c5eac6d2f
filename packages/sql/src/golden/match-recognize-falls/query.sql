-- Periods of falling prices per symbol: a start row, prices falling row after row, then a rise
-- (the example of Flink's MATCH_RECOGNIZE documentation, with a second symbol). START_ROW has no
-- DEFINE, so any row begins a match; matching resumes at the rise, which may start the next one.
-- The last input row is late (its time is behind the watermark): it is matched to nothing,
-- as in Flink, and is counted late and given to the dead letters (LATE_RECORD), where Flink drops it.
CREATE TABLE ticker (
  symbol STRING,
  price BIGINT,
  tax BIGINT,
  rowtime BIGINT,
  WATERMARK FOR rowtime AS rowtime - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './ticker.jsonl', 'format' = 'json');

CREATE TABLE falls (symbol STRING, start_tstamp BIGINT, bottom_tstamp BIGINT, end_tstamp BIGINT, drops BIGINT)
WITH ('connector' = 'file', 'path' = './out/falls.jsonl');

INSERT INTO falls
SELECT *
FROM ticker
  MATCH_RECOGNIZE (
    PARTITION BY symbol
    ORDER BY rowtime
    MEASURES
      START_ROW.rowtime AS start_tstamp,
      LAST(PRICE_DOWN.rowtime) AS bottom_tstamp,
      LAST(PRICE_UP.rowtime) AS end_tstamp,
      COUNT(PRICE_DOWN.price) AS drops
    ONE ROW PER MATCH
    AFTER MATCH SKIP TO LAST PRICE_UP
    PATTERN (START_ROW PRICE_DOWN+ PRICE_UP)
    DEFINE
      PRICE_DOWN AS
        (LAST(PRICE_DOWN.price, 1) IS NULL AND PRICE_DOWN.price < START_ROW.price) OR
          PRICE_DOWN.price < LAST(PRICE_DOWN.price, 1),
      PRICE_UP AS PRICE_UP.price > LAST(PRICE_DOWN.price, 1)
  ) MR;
