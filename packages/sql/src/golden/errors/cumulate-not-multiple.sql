CREATE TABLE bids (auction BIGINT, price DOUBLE, bidder STRING, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');
CREATE TABLE out_t (bidder STRING, n BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT bidder, count(*) AS n
FROM TABLE(CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '4' SECOND, INTERVAL '10' SECOND))
GROUP BY bidder, window_start, window_end;
