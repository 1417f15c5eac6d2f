-- Computed columns, as Nexmark's DDL writes them: the event time worked out from a nested ROW
-- (the WATERMARK is on the computed column), and a price converted per record.
CREATE TABLE events (
  event_type INT,
  bid ROW<auction BIGINT, price BIGINT, dateTime BIGINT>,
  dateTime AS bid.dateTime,
  euros AS bid.price * 0.9,
  WATERMARK FOR dateTime AS dateTime - INTERVAL '1' SECOND
) WITH ('connector' = 'file', 'path' = './events.jsonl', 'format' = 'json');

CREATE TABLE per_window (auction BIGINT, window_start BIGINT, bids BIGINT, euros DOUBLE)
WITH ('connector' = 'file', 'path' = './out/per-window.jsonl');

CREATE VIEW bid AS SELECT bid.auction AS auction, euros, dateTime FROM events WHERE event_type = 2;

INSERT INTO per_window
SELECT auction, window_start, COUNT(*) AS bids, SUM(euros) AS euros
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
GROUP BY auction, window_start, window_end;
