-- Flink's group window functions in GROUP BY (Nexmark q11's form): TUMBLE, HOP and SESSION with
-- their _START, _END and _ROWTIME auxiliary functions, planned as the window table functions.
CREATE TABLE clicks (
  `user` STRING,
  page STRING,
  ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './clicks.jsonl', 'format' = 'json');

CREATE TABLE per_minute (page STRING, clicks BIGINT, wstart BIGINT, wend BIGINT, rowtime BIGINT)
WITH ('connector' = 'file', 'path' = './out/per_minute.jsonl');

CREATE TABLE sliding (clicks BIGINT, wend BIGINT)
WITH ('connector' = 'file', 'path' = './out/sliding.jsonl');

CREATE TABLE sessions (`user` STRING, clicks BIGINT, starttime BIGINT, endtime BIGINT)
WITH ('connector' = 'file', 'path' = './out/sessions.jsonl');

EXECUTE STATEMENT SET BEGIN

INSERT INTO per_minute
SELECT page, count(*), TUMBLE_START(ts, INTERVAL '1' MINUTE), TUMBLE_END(ts, INTERVAL '1' MINUTE),
  TUMBLE_ROWTIME(ts, INTERVAL '1' MINUTE)
FROM clicks
GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), page;

INSERT INTO sliding
SELECT count(*), HOP_END(ts, INTERVAL '30' SECOND, INTERVAL '1' MINUTE)
FROM clicks
GROUP BY HOP(ts, INTERVAL '30' SECOND, INTERVAL '1' MINUTE);

INSERT INTO sessions
SELECT C.`user`, count(*) AS clicks,
  SESSION_START(C.ts, INTERVAL '20' SECOND) AS starttime,
  SESSION_END(C.ts, INTERVAL '20' SECOND) AS endtime
FROM clicks C
GROUP BY C.`user`, SESSION(C.ts, INTERVAL '20' SECOND);

END;
