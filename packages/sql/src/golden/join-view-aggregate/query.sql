-- Aggregating a join goes through a view: the interval join's pairs, summed per seller without
-- a window (an updating result, written as upserts by seller).
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE auctions (id BIGINT, seller STRING, opened BIGINT,
  WATERMARK FOR opened AS opened - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');
CREATE VIEW joined AS SELECT a.seller, b.price FROM bids b JOIN auctions a ON b.auction = a.id
  AND b.ts BETWEEN a.opened - INTERVAL '2' SECOND AND a.opened + INTERVAL '10' SECOND;
CREATE TABLE per_seller (seller STRING, total DOUBLE)
WITH ('connector' = 'file', 'path' = './out/s.jsonl', 'changelog' = 'upsert', 'key' = 'seller');
INSERT INTO per_seller SELECT seller, sum(price) AS total FROM joined GROUP BY seller;
