CREATE TABLE readings (id BIGINT, a DOUBLE, b DOUBLE, cls STRING)
WITH ('connector' = 'file', 'path' = './readings.jsonl', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, prediction STRING) WITH ('connector' = 'file', 'path' = './out.jsonl');
CREATE MODEL classes INPUT (a DOUBLE, b DOUBLE) WITH ('type' = 'hoeffding_tree', 'label' = 'cls');
INSERT INTO out_t
SELECT id, prediction
FROM ML_PREDICT(TABLE readings, MODEL classes, DESCRIPTOR(a, b), CONFIG => MAP['grace_period']);
