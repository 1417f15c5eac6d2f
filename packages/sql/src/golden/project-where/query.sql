-- A projection with expressions and a filter: no state, record by record.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE big_bids (auction BIGINT, bidder STRING, price_cents BIGINT, band STRING)
WITH ('connector' = 'file', 'path' = './out/big-bids.jsonl');

INSERT INTO big_bids
SELECT auction, upper(bidder) AS bidder, CAST(price * 100 AS BIGINT) AS price_cents,
       CASE WHEN price >= 20 THEN 'high' ELSE 'mid' END AS band
FROM bids
WHERE price >= 10 AND bidder <> 'bob';
