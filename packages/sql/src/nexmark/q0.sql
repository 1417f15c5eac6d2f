-- Nexmark q0, pass-through: the bids as they come.
CREATE TABLE nexmark_q0 (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), extra VARCHAR)
WITH ({{SINK}});

INSERT INTO nexmark_q0
SELECT auction, bidder, price, dateTime, extra FROM bid;
