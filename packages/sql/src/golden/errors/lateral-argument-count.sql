CREATE TABLE posts (id BIGINT, body STRING) WITH ('connector' = 'file', 'path' = './posts.jsonl', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, word STRING) WITH ('connector' = 'file', 'path' = './out.jsonl');
INSERT INTO out_t SELECT id, w FROM posts, LATERAL TABLE(split_words(body, 2)) AS s(w, p);
