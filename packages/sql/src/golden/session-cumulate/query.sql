-- SESSION windows per auction (a session closes after 5 seconds without a bid of its auction),
-- and CUMULATE windows growing by 5 seconds over 10-second periods.
CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE sessions (auction BIGINT, window_start BIGINT, window_end BIGINT, window_time BIGINT,
  n BIGINT, total DOUBLE)
WITH ('connector' = 'file', 'path' = './out/sessions.jsonl');

CREATE TABLE running (window_start BIGINT, window_end BIGINT, n BIGINT, total DOUBLE)
WITH ('connector' = 'file', 'path' = './out/running.jsonl');

INSERT INTO sessions
SELECT auction, window_start, window_end, window_time, COUNT(*) AS n, SUM(price) AS total
FROM TABLE(SESSION(TABLE bids PARTITION BY auction, DESCRIPTOR(ts), INTERVAL '5' SECOND))
GROUP BY auction, window_start, window_end;

INSERT INTO running
SELECT window_start, window_end, COUNT(*) AS n, SUM(price) AS total
FROM TABLE(CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
GROUP BY window_start, window_end;
