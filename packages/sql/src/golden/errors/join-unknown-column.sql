CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE auctions (id BIGINT, seller STRING, opened BIGINT, WATERMARK FOR opened AS opened - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');
CREATE TABLE out_t (auction BIGINT, seller STRING) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t
SELECT b.auction, a.seller
FROM bids b JOIN auctions a ON b.auction = a.id AND b.sellr = a.seller;
