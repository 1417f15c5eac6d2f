-- Streaming SQL: revenue per region in one-minute tumbling windows, and large orders as they
-- come, from one stream of generated orders.
--
--   npm run sluice -- run examples/sql/pipeline.sql
--
-- The WITH options of a table are the options of its connector's source or sink
-- (`sluice describe generate`, `sluice describe file`); WATERMARK FOR gives the event time.

SET 'pipeline.name' = 'sql-orders';
SET 'execution.checkpointing.interval' = '2s';

CREATE TABLE orders (
  order_id STRING,
  customer_id STRING,
  region STRING,
  amount DOUBLE,
  items INT,
  ts BIGINT,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'generate',
  'template' = 'orders',
  'count' = '20000',
  'seed' = '7',
  'out_of_order' = '0.2',
  'jitter' = '4s'
);

CREATE TABLE per_region (
  region STRING,
  window_start BIGINT,
  window_end BIGINT,
  orders BIGINT,
  revenue DOUBLE,
  avg_items DOUBLE
) WITH ('connector' = 'file', 'path' = './out/per-region.jsonl');

CREATE TABLE large_orders (order_id STRING, region STRING, amount_usd DOUBLE)
WITH ('connector' = 'file', 'path' = './out/large-orders.jsonl');

CREATE VIEW normalized AS
SELECT order_id, upper(region) AS region, amount, items, ts
FROM orders
WHERE items > 0;

EXECUTE STATEMENT SET
BEGIN
  INSERT INTO per_region
  SELECT region, window_start, window_end,
         count(*) AS orders,
         round(sum(amount), 2) AS revenue,
         round(avg(items), 2) AS avg_items
  FROM TABLE(TUMBLE(TABLE normalized, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY region, window_start, window_end;

  INSERT INTO large_orders
  SELECT order_id, region, round(amount * 1.1, 2) AS amount_usd
  FROM normalized
  WHERE amount > 450;
END;
