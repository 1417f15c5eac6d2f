CREATE TABLE clicks (`user` STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './clicks.jsonl', 'format' = 'json');
CREATE VIEW c AS SELECT *, PROCTIME() AS pt FROM clicks;
CREATE TABLE out_t (`user` STRING, n BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t
SELECT `user`, count(*)
FROM TABLE(SESSION(TABLE c PARTITION BY `user`, DESCRIPTOR(pt), INTERVAL '1' MINUTE))
GROUP BY `user`, window_start, window_end;
