-- EXPLAIN of OVER aggregates and a window top-N: each says what state it keeps — an unbounded
-- OVER per key for the life of the job (unless 'table.exec.state.ttl'), a RANGE frame only the
-- rows of its range, a window top-N each window until it fires — and that all three are
-- append-only. The plain INSERT runs.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE running (auction BIGINT, ts BIGINT, total DOUBLE)
WITH ('connector' = 'file', 'path' = './out/running.jsonl');
CREATE TABLE recent (auction BIGINT, ts BIGINT, total DOUBLE)
WITH ('connector' = 'file', 'path' = './out/recent.jsonl');
CREATE TABLE top_bid (window_start BIGINT, auction BIGINT, price DOUBLE)
WITH ('connector' = 'file', 'path' = './out/top-bid.jsonl');

INSERT INTO running
SELECT auction, ts, SUM(price) OVER (PARTITION BY auction ORDER BY ts) AS total FROM bids;

EXPLAIN EXECUTE STATEMENT SET BEGIN
INSERT INTO running
SELECT auction, ts, SUM(price) OVER (PARTITION BY auction ORDER BY ts) AS total FROM bids;
INSERT INTO recent
SELECT auction, ts,
  SUM(price) OVER (PARTITION BY auction ORDER BY ts RANGE BETWEEN INTERVAL '5' SECOND PRECEDING AND CURRENT ROW) AS total
FROM bids;
INSERT INTO top_bid
SELECT window_start, auction, price FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
) WHERE rn <= 1;
END;
