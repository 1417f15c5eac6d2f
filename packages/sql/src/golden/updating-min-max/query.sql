-- MIN and MAX over an updating result (a GROUP BY of a GROUP BY): each auction's total so far,
-- then per seller the smallest and largest of those totals. A bid changes its auction's total
-- (an update-before of the old total, then the new one), so the seller's MIN and MAX take the
-- old total back: over an updating input they keep each distinct total with its count.
CREATE TABLE bids (auction BIGINT, seller STRING, price BIGINT, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE extremes (seller STRING, auctions BIGINT, lowest BIGINT, highest BIGINT)
WITH ('connector' = 'file', 'path' = './out/extremes.jsonl', 'changelog' = 'debezium');

INSERT INTO extremes
SELECT seller, count(*) AS auctions, MIN(total) AS lowest, MAX(total) AS highest
FROM (SELECT auction, seller, SUM(price) AS total FROM bids GROUP BY auction, seller) T
GROUP BY seller;
