-- Nexmark q13, bounded side input join: each bid with the side table's value for its auction id
-- modulo 10,000 (a lookup join). The side table is the suite's (rows `i, 'i'` for i < 10,000) as
-- JSON lines read by the `file` lookup, its path filled in by the test and the benchmark.

CREATE TABLE side_input (
  key BIGINT,
  `value` VARCHAR
) WITH ('connector' = 'file', 'path' = '{{SIDE_INPUT}}', 'format' = 'json');

CREATE TABLE nexmark_q13 (
  auction  BIGINT,
  bidder  BIGINT,
  price  BIGINT,
  `dateTime`  TIMESTAMP(3),
  `value`  VARCHAR
) WITH ({{SINK}});

INSERT INTO nexmark_q13
SELECT
    B.auction,
    B.bidder,
    B.price,
    B.`dateTime`,
    S.`value`
FROM (SELECT *, PROCTIME() as p_time FROM bid) B
JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S
ON mod(B.auction, 10000) = S.key;
