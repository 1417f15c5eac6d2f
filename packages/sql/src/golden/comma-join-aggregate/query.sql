-- A comma join (FROM a, b WHERE …: the equality keys the join, the other conditions filter the
-- pairs) aggregated in the same query, as Nexmark q4 writes it: the highest bid within each
-- auction's lifetime, then their count and sum per seller (an updating aggregate of an updating one). Columns
-- both tables have are told apart by table; an unqualified column is the one table's that has it.
CREATE TABLE bids (auction BIGINT, price BIGINT, ts BIGINT)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE auctions (id BIGINT, seller STRING, ts BIGINT, expires BIGINT)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');

CREATE TABLE best (id BIGINT, seller STRING, final BIGINT, bids BIGINT, first_ts BIGINT)
WITH ('connector' = 'file', 'path' = './out/best.jsonl', 'changelog' = 'debezium');

CREATE TABLE per_seller (seller STRING, auctions BIGINT, total BIGINT)
WITH ('connector' = 'file', 'path' = './out/per_seller.jsonl', 'changelog' = 'debezium');

EXECUTE STATEMENT SET BEGIN

INSERT INTO best
SELECT A.id, seller, MAX(B.price) AS final, count(*) AS bids, MIN(B.ts) AS first_ts
FROM auctions A, bids B
WHERE A.id = B.auction AND B.ts BETWEEN A.ts AND A.expires AND B.price > 1
GROUP BY A.id, seller;

INSERT INTO per_seller
SELECT Q.seller, count(*), SUM(Q.final)
FROM (
  SELECT MAX(B.price) AS final, A.seller
  FROM auctions A, bids B
  WHERE A.id = B.auction AND B.ts BETWEEN A.ts AND A.expires
  GROUP BY A.id, A.seller
) Q
GROUP BY Q.seller;

END;
