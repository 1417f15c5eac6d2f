-- A temporal join: each order takes the rate of its currency valid at the order's event time,
-- as Flink's FOR SYSTEM_TIME AS OF; rates is a versioned table, each record a new version.
CREATE TABLE orders (id BIGINT, currency STRING, amount DOUBLE, ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './orders.jsonl', 'format' = 'json');

CREATE TABLE rates (currency STRING, rate DOUBLE, since BIGINT,
  WATERMARK FOR since AS since - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './rates.jsonl', 'format' = 'json');

CREATE TABLE priced (id BIGINT, currency STRING, amount DOUBLE, rate DOUBLE, euros DOUBLE)
WITH ('connector' = 'file', 'path' = './out/priced.jsonl');

INSERT INTO priced
SELECT o.id, o.currency, amount, r.rate, amount * r.rate AS euros
FROM orders AS o
LEFT JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.currency = r.currency;
