CREATE TABLE clicks (`user` STRING, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './clicks.jsonl', 'format' = 'json');
CREATE TABLE out_t (`user` STRING, n BIGINT, s BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT `user`, count(*), TUMBLE_START(ts, INTERVAL '1' MINUTE)
FROM clicks
GROUP BY `user`, SESSION(ts, INTERVAL '1' MINUTE);
