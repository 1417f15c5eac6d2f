-- GROUP BY expressions, as Nexmark q15–q17 group by DATE_FORMAT(dateTime, 'yyyy-MM-dd'): each is
-- computed into a column before the aggregate (named by the select item that repeats it, else
-- _group<n>); the select list and HAVING read it where they repeat the expression, and an
-- aggregate's argument may still read the columns it is computed from. Over a tumbling window too.
CREATE TABLE bids (
  auction BIGINT,
  price BIGINT,
  bidder STRING,
  ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE daily (`day` STRING, parity BIGINT, bids BIGINT, bidders BIGINT, cheap BIGINT, last_hour STRING)
WITH ('connector' = 'file', 'path' = './out/daily.jsonl', 'changelog' = 'debezium');

CREATE TABLE windowed (who STRING, window_start BIGINT, bids BIGINT)
WITH ('connector' = 'file', 'path' = './out/windowed.jsonl');

EXECUTE STATEMENT SET BEGIN

INSERT INTO daily
SELECT
  DATE_FORMAT(ts, 'yyyy-MM-dd') AS `day`,
  MOD(auction, 2),
  count(*) AS bids,
  count(DISTINCT lower(bidder)) AS bidders,
  count(DISTINCT bidder) FILTER (WHERE price < 100) AS cheap,
  max(DATE_FORMAT(ts, 'HH')) AS last_hour
FROM bids
GROUP BY DATE_FORMAT(ts, 'yyyy-MM-dd'), MOD(auction, 2)
HAVING count(*) > 1 OR MOD(auction, 2) = 1;

INSERT INTO windowed
SELECT lower(bidder) AS who, window_start, count(*) AS bids
FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' DAY))
GROUP BY lower(bidder), window_start, window_end;

END;
