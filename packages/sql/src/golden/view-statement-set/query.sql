-- A view read by two inserts of one statement set: a running count per bidder (an updating
-- aggregate, written as a changelog) and the view's records as they are.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TEMPORARY VIEW cheap AS
SELECT bidder, price FROM bids WHERE price < 15;

CREATE TABLE cheap_bids (bidder STRING, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/cheap-bids.jsonl');

CREATE TABLE per_bidder (bidder STRING, n BIGINT)
WITH ('connector' = 'file', 'path' = './out/per-bidder.jsonl', 'changelog' = 'debezium');

EXECUTE STATEMENT SET
BEGIN
  INSERT INTO cheap_bids SELECT * FROM cheap;
  INSERT INTO per_bidder SELECT bidder, count(*) AS n FROM cheap GROUP BY bidder;
END;
