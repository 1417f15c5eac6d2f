-- PRIMARY KEY (…) NOT ENFORCED on the table written: its sink writes upserts under that key
-- (the file sink's 'changelog' = 'upsert' and 'key' are set from it), as Flink's upsert sinks do.
-- The key is also written as a table constraint, and the column form is read the same way.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE spend (
  bidder STRING,
  auction BIGINT,
  bids BIGINT,
  total DOUBLE,
  CONSTRAINT spend_pk PRIMARY KEY (bidder, auction) NOT ENFORCED
) WITH ('connector' = 'file', 'path' = './out/spend.jsonl');

CREATE TABLE top_price (auction BIGINT PRIMARY KEY NOT ENFORCED, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/top_price.jsonl');

EXECUTE STATEMENT SET BEGIN
INSERT INTO spend
SELECT bidder, auction, count(*) AS bids, sum(price) AS total
FROM bids
GROUP BY bidder, auction;
INSERT INTO top_price
SELECT auction, max(price) FROM bids GROUP BY auction;
END;
