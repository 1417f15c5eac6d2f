-- A table function defined from TypeScript (defineTableFunction), in Flink's three forms:
-- `t, LATERAL TABLE(f(x)) AS s(c, …)`, `CROSS JOIN LATERAL TABLE(…)` (each row of the post with
-- each row the function gives; a post with none is dropped) and `LEFT JOIN LATERAL TABLE(…) ON
-- TRUE` (a post with none kept once, its columns NULL). split_words throws on post 4's '!': that
-- post goes to the dead letters. The rows it gives feed a GROUP BY too.
CREATE TEMPORARY SYSTEM FUNCTION split_words AS 'com.example.SplitWords';

CREATE TABLE posts (id BIGINT, author STRING, body STRING, ts BIGINT)
WITH ('connector' = 'file', 'path' = './posts.jsonl', 'format' = 'json');

CREATE TABLE words (id BIGINT, w STRING, pos BIGINT)
WITH ('connector' = 'file', 'path' = './out/words.jsonl');
CREATE TABLE cross_words (author STRING, word STRING)
WITH ('connector' = 'file', 'path' = './out/cross-words.jsonl');
CREATE TABLE all_posts (id BIGINT, word STRING, position BIGINT)
WITH ('connector' = 'file', 'path' = './out/all-posts.jsonl');
CREATE TABLE word_counts (word STRING, n BIGINT)
WITH ('connector' = 'file', 'path' = './out/word-counts.jsonl', 'changelog' = 'debezium');

INSERT INTO words
SELECT p.id, s.w, s.pos FROM posts AS p, LATERAL TABLE(split_words(p.body)) AS s(w, pos)
WHERE s.pos <= 2;

INSERT INTO cross_words
SELECT author, word FROM posts CROSS JOIN LATERAL TABLE(split_words(upper(body))) AS t;

INSERT INTO all_posts
SELECT p.id, t.word, t.position
FROM posts p LEFT JOIN LATERAL TABLE(split_words(p.body)) AS t ON TRUE;

INSERT INTO word_counts
SELECT word, COUNT(*) FROM posts, LATERAL TABLE(split_words(body)) GROUP BY word;
