-- Nexmark's tables for the Flink peer: packages/sql/src/nexmark/tables.sql (the reference suite's
-- DDL) read from a JSON-lines file of `sluice nexmark` ({{EVENTS_FILE}}). That file carries event
-- times as epoch milliseconds (numbers), which Flink's JSON format does not read as TIMESTAMP(3)
-- (it reads strings only), so the nested dateTime and expires are BIGINT here and become
-- TIMESTAMP(3) (at UTC, the session time zone the peer sets) in the computed column and the views.
CREATE TABLE datagen (
  event_type INT,
  person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR,
    state VARCHAR, dateTime BIGINT, extra VARCHAR>,
  auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT,
    dateTime BIGINT, expires BIGINT, seller BIGINT, category BIGINT, extra VARCHAR>,
  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    dateTime BIGINT, extra VARCHAR>,
  dateTime AS CAST(TO_TIMESTAMP_LTZ(
    CASE
      WHEN event_type = 0 THEN person.dateTime
      WHEN event_type = 1 THEN auction.dateTime
      ELSE bid.dateTime
    END, 3) AS TIMESTAMP(3)),
  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH ({{SOURCE}});

CREATE VIEW person AS
SELECT person.id, person.name, person.emailAddress, person.creditCard, person.city, person.state,
  dateTime, person.extra
FROM datagen WHERE event_type = 0;

CREATE VIEW auction AS
SELECT auction.id, auction.itemName, auction.description, auction.initialBid, auction.reserve,
  dateTime, CAST(TO_TIMESTAMP_LTZ(auction.expires, 3) AS TIMESTAMP(3)) AS expires, auction.seller,
  auction.category, auction.extra
FROM datagen WHERE event_type = 1;

CREATE VIEW bid AS
SELECT bid.auction, bid.bidder, bid.price, bid.channel, bid.url, dateTime, bid.extra
FROM datagen WHERE event_type = 2;
