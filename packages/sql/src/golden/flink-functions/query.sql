-- Flink's calendar, string and JSON functions in a projection: a month added to Jan 31 lands on
-- the last day of February; JSON_VALUE is NULL for text that is not JSON.
CREATE TABLE orders (id BIGINT, customer STRING, ts BIGINT, payload STRING)
WITH ('connector' = 'file', 'path' = './orders.jsonl', 'format' = 'json');

CREATE TABLE shaped (id BIGINT, customer STRING, day STRING, next_month STRING, months_to_2025 BIGINT, sku STRING, qty STRING)
WITH ('connector' = 'file', 'path' = './out/shaped.jsonl');

INSERT INTO shaped
SELECT
  id,
  INITCAP(customer),
  DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss.SSS'),
  DATE_FORMAT(TIMESTAMPADD(MONTH, 1, ts), 'yyyy-MM-dd'),
  TIMESTAMPDIFF(MONTH, ts, TO_TIMESTAMP('2025-01-01T00:00:00Z')),
  JSON_VALUE(payload, '$.item.sku'),
  JSON_VALUE(payload, '$.item.qty')
FROM orders;
