-- ORDER BY and LIMIT on a stream, in the forms Flink 2.x runs: ORDER BY the event time ascending
-- (then other columns) is a temporal sort — rows wait for the watermark, late ones (bob's at 1 s
-- and fay's at 1.5 s, once ann's 3 s put the watermark at 2 s) go to the late output; ORDER BY … LIMIT n is a top-N of the
-- whole result (a changelog); LIMIT n alone passes the first n rows. In a subquery and after a
-- UNION ALL too.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE in_order (ts BIGINT, price DOUBLE, bidder STRING)
WITH ('connector' = 'file', 'path' = './out/in-order.jsonl');

CREATE TABLE top3 (bidder STRING, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/top3.jsonl', 'changelog' = 'debezium');

CREATE TABLE first4 (bidder STRING, auction BIGINT)
WITH ('connector' = 'file', 'path' = './out/first4.jsonl');

CREATE TABLE earliest2 (bidder STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './out/earliest2.jsonl', 'changelog' = 'debezium');

CREATE TABLE cheap_first (bidder STRING, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/cheap-first.jsonl');

INSERT INTO in_order
SELECT ts, price, bidder FROM bids ORDER BY ts, price DESC;

INSERT INTO top3
SELECT bidder, price AS p FROM bids ORDER BY p DESC LIMIT 3;

INSERT INTO first4
SELECT bidder, auction FROM bids WHERE auction <> 3 LIMIT 4;

INSERT INTO earliest2
SELECT bidder, ts FROM (SELECT * FROM bids ORDER BY ts FETCH FIRST 2 ROWS ONLY);

INSERT INTO cheap_first
SELECT bidder, price FROM bids WHERE price < 20
UNION ALL
SELECT bidder, price FROM bids WHERE price > 40
LIMIT 3;
