-- Window table functions without aggregation: each bid once per window it falls in, with the
-- window's bounds (HOP: 10-second windows every 5 seconds; CUMULATE: growing by 5 seconds over
-- 10-second periods). The HOP and CUMULATE rows are merged from one projection per window, so
-- their order is not fixed and the lines are compared sorted.
CREATE TABLE bids (auction BIGINT, price DOUBLE, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './bids.jsonl', 'format' = 'json');

CREATE TABLE hopped (auction BIGINT, price DOUBLE, window_start BIGINT, window_end BIGINT)
WITH ('connector' = 'file', 'path' = './out/hopped.jsonl');

CREATE TABLE grown (auction BIGINT, window_start BIGINT, window_end BIGINT, window_time BIGINT)
WITH ('connector' = 'file', 'path' = './out/grown.jsonl');

INSERT INTO hopped
SELECT auction, price, window_start, window_end
FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND));

INSERT INTO grown
SELECT auction, window_start, window_end, window_time
FROM TABLE(CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
WHERE price > 8;
