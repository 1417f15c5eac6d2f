-- Nexmark's auction stream in streaming SQL, generated in process (no services needed):
--
--   npm run sluice -- run examples/nexmark-sql/pipeline.sql
--
-- The tables are the Nexmark reference suite's (a computed dateTime gives the event time); the
-- queries use common tables, subqueries, HOP windows with a join of their counts (Nexmark q5),
-- ROW_NUMBER() top-N, and HAVING with FILTER and COUNT(DISTINCT). The updating results are
-- written as Debezium changelogs.

SET 'pipeline.name' = 'nexmark-sql';
SET 'execution.checkpointing.interval' = '2s';

CREATE TABLE datagen (
  event_type INT,
  person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR,
    state VARCHAR, dateTime TIMESTAMP(3), extra VARCHAR>,
  auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT,
    dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    dateTime TIMESTAMP(3), extra VARCHAR>,
  dateTime AS
    CASE
      WHEN event_type = 0 THEN person.dateTime
      WHEN event_type = 1 THEN auction.dateTime
      ELSE bid.dateTime
    END,
  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'events' = '30000', 'events_per_second' = '2000', 'seed' = '1');

CREATE VIEW bid AS
SELECT bid.auction, bid.bidder, bid.price, bid.channel, dateTime FROM datagen WHERE event_type = 2;

CREATE TABLE hot_items (auction BIGINT, num BIGINT, window_end BIGINT)
WITH ('connector' = 'file', 'path' = './out/hot-items.jsonl', 'changelog' = 'debezium');

CREATE TABLE top_bids (auction BIGINT, price BIGINT, bidder BIGINT)
WITH ('connector' = 'file', 'path' = './out/top-bids.jsonl', 'changelog' = 'debezium');

CREATE TABLE busy_channels (channel VARCHAR, window_start BIGINT, bids BIGINT, bidders BIGINT, big_bids BIGINT)
WITH ('connector' = 'file', 'path' = './out/busy-channels.jsonl');

EXECUTE STATEMENT SET BEGIN

-- Nexmark q5: the auctions with the most bids in each 10-second window, every 2 seconds.
INSERT INTO hot_items
WITH counts AS (
  SELECT auction, count(*) AS num, window_start, window_end
  FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
  GROUP BY auction, window_start, window_end
)
SELECT c.auction, c.num, c.window_end
FROM counts AS c
JOIN (SELECT max(num) AS maxn, window_end FROM counts GROUP BY window_end) AS m
ON c.window_end = m.window_end AND c.num >= m.maxn;

-- The three highest bids of each auction.
INSERT INTO top_bids
SELECT auction, price, bidder FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bid
) WHERE rn <= 3;

-- Per channel and 10-second window: bids, distinct bidders and bids over $100, for the
-- channels with at least 20 bids.
INSERT INTO busy_channels
SELECT channel, window_start, COUNT(*) AS bids, COUNT(DISTINCT bidder) AS bidders,
  COUNT(*) FILTER (WHERE price > 10000) AS big_bids
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
GROUP BY channel, window_start, window_end
HAVING COUNT(*) >= 20;

END;
