CREATE TABLE orders (id BIGINT, customer STRING)
WITH ('connector' = 'file', 'path' = './orders.jsonl', 'format' = 'json');
CREATE TABLE customers (id STRING, tier STRING)
WITH ('connector' = 'file', 'path' = './customers.jsonl', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, tier STRING) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t
SELECT o.id, c.tier
FROM (SELECT *, PROCTIME() AS pt FROM orders) o
JOIN customers FOR SYSTEM_TIME AS OF o.pt AS c
ON o.customer = c.id AND c.tier = 'gold';
