CREATE TABLE readings (id BIGINT, a DOUBLE, b DOUBLE, ts BIGINT, WATERMARK FOR ts AS ts)
WITH ('connector' = 'file', 'path' = './readings.jsonl', 'format' = 'json');
CREATE TABLE labels (id BIGINT, cls STRING, ts BIGINT, WATERMARK FOR ts AS ts)
WITH ('connector' = 'file', 'path' = './labels.jsonl', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, prediction STRING) WITH ('connector' = 'file', 'path' = './out.jsonl');
CREATE MODEL classes INPUT (a DOUBLE, b DOUBLE)
WITH ('type' = 'hoeffding_tree', 'label' = 'cls',
      'labels.table' = 'labels', 'labels.id' = 'id', 'labels.horizon' = 'an hour');
INSERT INTO out_t
SELECT id, prediction FROM ML_PREDICT(TABLE readings, MODEL classes, DESCRIPTOR(a, b));
