-- Online learning in SQL: a Hoeffding tree declared once with CREATE MODEL, learning and
-- predicting on each reading (test, then train), and only the rows it got wrong kept after
-- the first hundred, and the prequential accuracy per 100-second window.
CREATE TABLE readings (
  id BIGINT, a DOUBLE, b DOUBLE, cls STRING, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './readings.jsonl', 'format' = 'json');

CREATE TABLE predictions (id BIGINT, cls STRING, predicted STRING, share DOUBLE)
WITH ('connector' = 'file', 'path' = './out/predictions.jsonl');

CREATE TABLE misses (id BIGINT, cls STRING, predicted STRING)
WITH ('connector' = 'file', 'path' = './out/misses.jsonl');

CREATE TABLE accuracy (window_start BIGINT, window_end BIGINT, readings BIGINT, accuracy DOUBLE)
WITH ('connector' = 'file', 'path' = './out/accuracy.jsonl');

CREATE MODEL classes
INPUT (a DOUBLE, b DOUBLE)
OUTPUT (predicted STRING, share DOUBLE)
WITH (
  'type' = 'hoeffding_tree',
  'label' = 'cls',
  'grace_period' = '50',
  'split_points' = '20'
);

CREATE VIEW scored AS
SELECT id, cls, predicted, share, ts
FROM TABLE(ML_PREDICT(TABLE readings, MODEL classes, DESCRIPTOR(a, b)));

INSERT INTO predictions SELECT id, cls, predicted, share FROM scored;

INSERT INTO misses SELECT id, cls, predicted FROM scored WHERE id >= 100 AND predicted <> cls;

INSERT INTO accuracy
SELECT window_start, window_end, count(*) AS readings,
       round(avg(CASE WHEN predicted = cls THEN 1.0 ELSE 0.0 END), 3) AS accuracy
FROM TABLE(TUMBLE(TABLE scored, DESCRIPTOR(ts), INTERVAL '100' SECOND))
GROUP BY window_start, window_end;
