-- Nexmark q3, local item suggestion: auctions of category 10 by sellers in Oregon, Idaho or
-- California (an unbounded join: an updating result).
CREATE TABLE nexmark_q3 (name VARCHAR, city VARCHAR, state VARCHAR, id BIGINT)
WITH ({{SINK}});

INSERT INTO nexmark_q3
SELECT P.name, P.city, P.state, A.id
FROM auction AS A INNER JOIN person AS P on A.seller = P.id
WHERE A.category = 10 and (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
