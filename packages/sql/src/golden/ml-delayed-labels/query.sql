-- Labels that come later than their features, in SQL: each transaction is predicted when it
-- arrives; its chargeback (the label) comes 1–31 s later, and the model learns from it if it
-- comes within the 20-second horizon ('labels.*' options). The call's CONFIG => MAP[…]
-- overrides the model's learning rate and adds drift detection for this query only.
CREATE TABLE transactions (
  txn BIGINT, a DOUBLE, b DOUBLE, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './transactions.jsonl', 'format' = 'json');

CREATE TABLE chargebacks (
  txn BIGINT, fraud BOOLEAN, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './chargebacks.jsonl', 'format' = 'json');

CREATE TABLE predictions (txn BIGINT, suspect BOOLEAN, p DOUBLE)
WITH ('connector' = 'file', 'path' = './out/predictions.jsonl');

CREATE MODEL fraud
INPUT (a DOUBLE, b DOUBLE)
OUTPUT (suspect BOOLEAN, p DOUBLE)
WITH (
  'type' = 'logistic_regression',
  'optimizer' = 'adam',
  'learning_rate' = '0.01',
  'label' = 'fraud',
  'labels.table' = 'chargebacks',
  'labels.id' = 'txn',
  'labels.horizon' = '20s'
);

INSERT INTO predictions
SELECT txn, suspect, round(p, 6)
FROM ML_PREDICT(
  TABLE transactions, MODEL fraud, DESCRIPTOR(a, b),
  CONFIG => MAP['learning_rate', '0.1', 'drift.detector', 'page_hinkley']
);
