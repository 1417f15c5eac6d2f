-- Complex event processing on Nexmark bids: per auction, a run of three or more bids each above
-- the one before, ended by a bid that does not rise, all within 10 seconds of the run's first
-- bid. A run broken by a lower bid after two rises, or too slow, gives nothing.
CREATE TABLE bid (
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  channel STRING,
  url STRING,
  dateTime BIGINT,
  extra STRING,
  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE rises (
  auction BIGINT, rise_start BIGINT, rise_end BIGINT, from_price BIGINT, to_price BIGINT,
  bids BIGINT, bidders_avg DOUBLE, ended_by BIGINT
) WITH ('connector' = 'file', 'path' = './out/rises.jsonl');

INSERT INTO rises
SELECT auction, rise_start, rise_end, from_price, to_price, bids, bidders_avg, ended_by
FROM bid
  MATCH_RECOGNIZE (
    PARTITION BY auction
    ORDER BY dateTime
    MEASURES
      FIRST(UP.dateTime) AS rise_start,
      LAST(UP.dateTime) AS rise_end,
      FIRST(UP.price) AS from_price,
      LAST(UP.price) AS to_price,
      COUNT(UP.price) AS bids,
      AVG(UP.bidder) AS bidders_avg,
      DOWN.bidder AS ended_by
    ONE ROW PER MATCH
    AFTER MATCH SKIP PAST LAST ROW
    PATTERN (UP{3,} DOWN) WITHIN INTERVAL '10' SECOND
    DEFINE
      UP AS PREV(UP.price) IS NULL OR UP.price > PREV(UP.price),
      DOWN AS DOWN.price <= LAST(UP.price)
  ) AS r
WHERE r.bids >= 3;

-- EXPLAIN says what state the pattern keeps: bounded by WITHIN here, unbounded without it.
CREATE TABLE unbounded (auction BIGINT, bids BIGINT) WITH ('connector' = 'file', 'path' = './out/unbounded.jsonl');

EXPLAIN PLAN FOR
INSERT INTO unbounded
SELECT *
FROM bid
  MATCH_RECOGNIZE (
    PARTITION BY auction
    ORDER BY dateTime
    MEASURES COUNT(UP.price) AS bids
    PATTERN (UP+ DOWN)
    DEFINE UP AS PREV(UP.price) IS NULL OR UP.price > PREV(UP.price), DOWN AS DOWN.price <= LAST(UP.price)
  );
