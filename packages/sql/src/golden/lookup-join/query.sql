-- A lookup join, as Nexmark q13 writes it: each order enriched with the customer row a lookup
-- table (the `file` lookup type) holds for its key, FOR SYSTEM_TIME AS OF a PROCTIME() column.
-- The inner JOIN drops an order without a row; the LEFT JOIN keeps it with NULL columns. The key
-- may be an expression of the order (ON lower(o.customer) = c.id).
CREATE TABLE orders (id BIGINT, customer STRING, amount DOUBLE)
WITH ('connector' = 'file', 'path' = './orders.jsonl', 'format' = 'json');
CREATE TABLE customers (id STRING, name STRING, tier STRING)
WITH ('connector' = 'file', 'path' = './customers.jsonl', 'format' = 'json');

CREATE TABLE enriched (id BIGINT, amount DOUBLE, name STRING, tier STRING)
WITH ('connector' = 'file', 'path' = './out/enriched.jsonl');
CREATE TABLE all_orders (id BIGINT, customer STRING, tier STRING)
WITH ('connector' = 'file', 'path' = './out/all_orders.jsonl');

CREATE VIEW o AS SELECT *, PROCTIME() AS pt FROM orders;

EXECUTE STATEMENT SET BEGIN

INSERT INTO enriched
SELECT o.id, o.amount, c.name, c.tier
FROM o JOIN customers FOR SYSTEM_TIME AS OF o.pt AS c
ON lower(o.customer) = c.id;

INSERT INTO all_orders
SELECT o.id, o.customer, c.tier
FROM o LEFT JOIN customers FOR SYSTEM_TIME AS OF o.pt AS c
ON lower(o.customer) = c.id;

END;
