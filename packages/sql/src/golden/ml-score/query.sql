-- Scoring with a pre-trained ONNX model (a logistic regression over four columns, the ML
-- package's test model): the probability it writes, and the model version that scored it.
CREATE TABLE payments (id BIGINT, f0 DOUBLE, f1 DOUBLE, f2 DOUBLE, f3 DOUBLE, amount DOUBLE)
WITH ('connector' = 'file', 'path' = './payments.jsonl', 'format' = 'json');

CREATE TABLE flagged (id BIGINT, amount DOUBLE, risk DOUBLE, model_version STRING)
WITH ('connector' = 'file', 'path' = './out/flagged.jsonl');

CREATE MODEL risk
INPUT (x0 DOUBLE, x1 DOUBLE, x2 DOUBLE, x3 DOUBLE)
WITH (
  'type' = 'onnx',
  'model' = './model.onnx',
  'inputs.features' = 'x0, x1, x2, x3',
  'outputs.probability' = 'risk',
  'batch_size' = '8'
);

INSERT INTO flagged
SELECT p.id, p.amount, round(p.risk, 6), p.model_version
FROM ML_SCORE(TABLE payments, MODEL risk, DESCRIPTOR(f0, f1, f2, f3)) AS p
WHERE p.risk > 0.5;
