-- A regular LEFT JOIN: no time condition, so both inputs are tables and the output is their
-- join as a changelog — a bid without its auction is written padded with NULL, then deleted
-- when the auction arrives. The sink writes the changes as Debezium lines; which lines depends on
-- which file the engine reads first, so expected-final/ holds the table they leave.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE auctions (id BIGINT, seller STRING)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');

CREATE TABLE bid_sellers (auction BIGINT, bidder STRING, seller STRING)
WITH ('connector' = 'file', 'path' = './out/bid-sellers.jsonl', 'changelog' = 'debezium');

INSERT INTO bid_sellers
SELECT b.auction, bidder, a.seller
FROM bids b
LEFT JOIN auctions AS a ON b.auction = a.id;
