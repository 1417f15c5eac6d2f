CREATE TABLE ticker (symbol STRING, price BIGINT, rowtime BIGINT, WATERMARK FOR rowtime AS rowtime - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './ticker.jsonl', 'format' = 'json');
CREATE TABLE out_t (symbol STRING, p BIGINT) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT * FROM ticker MATCH_RECOGNIZE (
  PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS p
  AFTER MATCH SKIP TO LAST Z
  PATTERN (A B) DEFINE B AS B.price > A.price);
