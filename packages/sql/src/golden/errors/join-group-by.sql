CREATE TABLE bids (auction BIGINT, price DOUBLE)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE auctions (id BIGINT, seller STRING)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');
CREATE TABLE out_t (seller STRING, total DOUBLE) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t
SELECT a.seller, sum(b.price) AS total
FROM bids b JOIN auctions a ON b.auction = a.id
GROUP BY a.seller;
