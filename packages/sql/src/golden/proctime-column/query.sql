-- PROCTIME() as a computed column of CREATE TABLE, as Flink users declare it: `pt AS PROCTIME()`
-- is the processing-time attribute of every read of the table — the order of a running count
-- (OVER (… ORDER BY pt ROWS …), which does not depend on the clock) and the time of a lookup
-- join (FOR SYSTEM_TIME AS OF o.pt). Its value is the clock, so no output here selects it.
CREATE TABLE orders (id BIGINT, customer STRING, amount DOUBLE, pt AS PROCTIME())
WITH ('connector' = 'file', 'path' = './orders.jsonl', 'format' = 'json');
CREATE TABLE customers (id STRING, name STRING, tier STRING)
WITH ('connector' = 'file', 'path' = './customers.jsonl', 'format' = 'json');

CREATE TABLE running (id BIGINT, customer STRING, n BIGINT, total DOUBLE)
WITH ('connector' = 'file', 'path' = './out/running.jsonl');
CREATE TABLE enriched (id BIGINT, amount DOUBLE, name STRING, tier STRING)
WITH ('connector' = 'file', 'path' = './out/enriched.jsonl');

INSERT INTO running
SELECT id, customer,
  COUNT(*) OVER (PARTITION BY customer ORDER BY pt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
  SUM(amount) OVER (PARTITION BY customer ORDER BY pt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
FROM orders;

INSERT INTO enriched
SELECT o.id, o.amount, c.name, c.tier
FROM orders AS o JOIN customers FOR SYSTEM_TIME AS OF o.pt AS c
ON lower(o.customer) = c.id;

-- ORDER BY the processing-time attribute: rows already come in that order (nothing is planned).
CREATE TABLE arrivals (id BIGINT, customer STRING)
WITH ('connector' = 'file', 'path' = './out/arrivals.jsonl');
INSERT INTO arrivals SELECT id, customer FROM (SELECT id, customer, pt FROM orders ORDER BY pt);
