-- An interval join: a bid joins the auction it names when it comes at most 2 seconds before
-- the auction opens and at most 10 seconds after. State is bounded by the interval. A pair is
-- written when its second record arrives; the bids come in auction order, so the output order
-- does not depend on which file is read first.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE auctions (id BIGINT, seller STRING, opened BIGINT,
  WATERMARK FOR opened AS opened - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './auctions.jsonl', 'format' = 'json');

CREATE TABLE early_bids (auction BIGINT, bidder STRING, price DOUBLE, seller STRING)
WITH ('connector' = 'file', 'path' = './out/early-bids.jsonl');

INSERT INTO early_bids
SELECT b.auction, b.bidder, price, a.seller
FROM bids AS b
JOIN auctions a
  ON b.auction = a.id
 AND b.ts BETWEEN a.opened - INTERVAL '2' SECOND AND a.opened + INTERVAL '10' SECOND
WHERE b.price > 1;
