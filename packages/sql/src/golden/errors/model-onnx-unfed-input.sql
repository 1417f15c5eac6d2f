CREATE TABLE readings (id BIGINT, a DOUBLE, b DOUBLE, cls STRING)
WITH ('connector' = 'file', 'path' = './readings.jsonl', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, prediction STRING) WITH ('connector' = 'file', 'path' = './out.jsonl');
CREATE MODEL risk INPUT (a DOUBLE, b DOUBLE) WITH ('type' = 'onnx', 'model' = './risk.onnx', 'inputs.features' = 'a', 'outputs.probability' = 'p');
INSERT INTO out_t
SELECT id, p FROM ML_SCORE(TABLE readings, MODEL risk, DESCRIPTOR(a, b));
