-- A view made of a WITH common table and a subquery in FROM, merged by UNION ALL (the second
-- query's columns take the first one's names), read by two INSERTs: as it is, and by a
-- tumbling-window aggregate over the merged event times.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE offers (item BIGINT, amount DOUBLE, who STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './offers.jsonl', 'format' = 'json');

CREATE TABLE activity (auction BIGINT, price DOUBLE, kind STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './out/activity.jsonl');

CREATE TABLE per_window (kind STRING, window_start BIGINT, n BIGINT, total DOUBLE)
WITH ('connector' = 'file', 'path' = './out/per-window.jsonl');

CREATE VIEW all_activity AS
WITH big_bids AS (SELECT auction, price, ts FROM bids WHERE price >= 10)
SELECT auction, price, 'bid' AS kind, ts FROM big_bids
UNION ALL
SELECT item, amount, 'offer', ts FROM (SELECT * FROM offers WHERE who <> 'zed') AS o;

INSERT INTO activity SELECT * FROM all_activity;

INSERT INTO per_window
SELECT kind, window_start, COUNT(*) AS n, SUM(price) AS total
FROM TABLE(TUMBLE(TABLE all_activity, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY kind, window_start, window_end;
