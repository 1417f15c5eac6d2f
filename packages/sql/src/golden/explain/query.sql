-- EXPLAIN prints the plan of the statements it names (their steps, changelog modes, keys and
-- state) and runs none of them; the plain INSERT runs.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE big (auction BIGINT, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/big.jsonl');

CREATE TABLE spenders (bidder STRING, total DOUBLE)
WITH ('connector' = 'file', 'path' = './out/spenders.jsonl', 'changelog' = 'upsert', 'key' = 'bidder');

CREATE TABLE latest (bidder STRING, auction BIGINT, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/latest.jsonl', 'changelog' = 'debezium');

INSERT INTO big SELECT auction, price FROM bids WHERE price >= 20;

EXPLAIN CHANGELOG_MODE EXECUTE STATEMENT SET BEGIN
INSERT INTO spenders
SELECT bidder, SUM(price) AS total FROM bids GROUP BY bidder HAVING SUM(price) > 15;
INSERT INTO latest
SELECT bidder, auction, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY ts DESC) AS rn FROM bids
) WHERE rn = 1;
END;
