import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '@sluice/core';
import { parseScript } from './parser.ts';
import { Positions } from './position.ts';

const parse = (text: string) => parseScript(text, new Positions(text, 'q.sql'));

/** The error `text` fails with, as `file:line:column: message (CODE)`. */
function failure(text: string): string {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof SluiceError, String(err));
    return err.describe();
  }
  throw new Error('the script parsed');
}

const table = "CREATE TABLE t (a BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'file', 'path' = 'x')";

test('a script ends with or without a last semicolon, and comments are skipped', () => {
  const body = `-- a comment\n${table};\n/* more */ INSERT INTO t SELECT a, ts FROM t`;
  assert.equal(parse(body).length, 2);
  assert.equal(parse(`${body};`).length, 2);
});

test('CREATE TABLE reads columns with their types, the watermark and the options', () => {
  const [s] = parse(
    "CREATE TABLE bids (id BIGINT, price DECIMAL(10, 2), tags ARRAY<STRING>, ts TIMESTAMP(3),\n WATERMARK FOR ts AS ts - INTERVAL '1.5' SECOND) WITH ('connector' = 'file', 'max_depth' = 10, 'header' = TRUE)",
  );
  assert.equal(s.kind, 'create_table');
  if (s.kind !== 'create_table') return;
  assert.deepEqual(
    s.columns.map((c) => [c.name.text, c.type]),
    [
      ['id', 'BIGINT'],
      ['price', 'DECIMAL(10, 2)'],
      ['tags', 'ARRAY<STRING>'],
      ['ts', 'TIMESTAMP(3)'],
    ],
  );
  assert.equal(s.watermark?.delay, 1500);
  assert.deepEqual(
    s.options.map((o) => [o.key, o.value]),
    [
      ['connector', 'file'],
      ['max_depth', 10],
      ['header', true],
    ],
  );
});

test('TUMBLE and HOP read their sizes as milliseconds, HOP slide first as in Flink', () => {
  const text =
    "INSERT INTO o SELECT count(*) AS n FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '1' MINUTE)) GROUP BY window_start, window_end";
  const [s] = parse(text);
  assert.equal(s.kind, 'insert');
  if (s.kind !== 'insert') return;
  assert.deepEqual(s.query.from, {
    kind: 'window',
    type: 'hopping',
    table: { text: 't', start: text.indexOf('TABLE t') + 6 },
    timeColumn: { text: 'ts', start: text.indexOf('(ts)') + 1 },
    size: 60_000,
    slide: 5000,
    start: text.indexOf('TABLE('),
  });
  assert.deepEqual(
    s.query.groupBy?.map((g) => g.text),
    ['window_start', 'window_end'],
  );
});

test('EXECUTE STATEMENT SET gives its inserts in order', () => {
  const statements = parse(
    'EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT * FROM t; INSERT INTO b SELECT x AS y FROM t; END;',
  );
  assert.deepEqual(
    statements.map((s) => (s.kind === 'insert' ? s.sink.text : s.kind)),
    ['a', 'b'],
  );
});

test('syntax errors carry the line and column of the token', () => {
  assert.equal(
    failure(`${table};\nINSERT INTO t\nSELECT a\n  WHERE a > 1`),
    "q.sql:4:3: expected FROM after the select list, found 'WHERE' (CONFIG_PARSE)",
  );
  assert.equal(
    failure(`${table};\nINSERT INTO t SELECT a == 1 AS b FROM t`),
    "q.sql:2:24: '==' is not an operator; use '=' to compare (CONFIG_PARSE)",
  );
  assert.equal(
    failure("CREATE TABLE t (a INT, WATERMARK FOR a AS a + 1) WITH ('connector' = 'file')"),
    "q.sql:1:43: the watermark must be the column or the column minus an interval: write WATERMARK FOR a AS a - INTERVAL 'n' SECOND (the largest lateness the source allows), or AS a for none (CONFIG_PARSE)",
  );
  assert.equal(
    failure('SELECT 1'),
    'q.sql:1:1: a SELECT on its own has nowhere to go: write INSERT INTO <table> SELECT …, with the table created WITH a sink connector (CONFIG_PARSE)',
  );
});

test('a join reads its kind, the aliases of both tables, ON and FOR SYSTEM_TIME AS OF', () => {
  const [insert] = parse(
    'INSERT INTO o SELECT b.x FROM bids AS b LEFT OUTER JOIN rates FOR SYSTEM_TIME AS OF b.ts r ON b.c = r.c',
  );
  assert.equal(insert.kind, 'insert');
  const from = insert.kind === 'insert' ? insert.query.from : undefined;
  assert.equal(from?.kind, 'join');
  if (from?.kind !== 'join') return;
  assert.equal(from.type, 'left');
  assert.deepEqual([from.left.name.text, from.left.alias?.text], ['bids', 'b']);
  assert.deepEqual([from.right.name.text, from.right.alias?.text], ['rates', 'r']);
  assert.equal(from.on.text, 'b.c = r.c');
  assert.equal(from.asOf?.kind, 'member');
});

test('Flink SQL not planned yet is named where it appears, not reported as a syntax error', () => {
  const cases: [string, string][] = [
    [
      'INSERT INTO o SELECT a.x FROM a JOIN b ON a.x = b.x JOIN c ON b.x = c.x',
      'q.sql:1:53: not supported by Sluice SQL yet: joins of more than two tables',
    ],
    [
      'INSERT INTO o SELECT a.x FROM a CROSS JOIN b',
      'q.sql:1:33: not supported by Sluice SQL yet: CROSS JOIN',
    ],
    [
      'INSERT INTO o SELECT a FROM t MATCH_RECOGNIZE (ORDER BY ts PATTERN (A (B C)+) DEFINE B AS true)',
      'q.sql:1:74: not supported by Sluice SQL yet: groups of several variables in PATTERN',
    ],
    ['INSERT INTO o SELECT a FROM t LIMIT 3 OFFSET 1', 'q.sql:1:39: not supported by Sluice SQL yet: OFFSET'],
    [
      'INSERT INTO o SELECT a FROM t ORDER BY a NULLS FIRST',
      'q.sql:1:42: not supported by Sluice SQL yet: NULLS FIRST/LAST in ORDER BY',
    ],
    [
      'INSERT INTO o SELECT lag(a) OVER (ORDER BY a) AS r FROM t',
      'q.sql:1:29: not supported by Sluice SQL yet: OVER after anything but an aggregate call or ROW_NUMBER()',
    ],
  ];
  for (const [text, expected] of cases)
    assert.ok(failure(text).startsWith(expected), `${text}\n→ ${failure(text)}`);
});

test('an expression keeps the parentheses around its first and last operands in its text', () => {
  const [s] = parse('INSERT INTO o SELECT (a + 1) * 2 AS b FROM t WHERE x = 1 AND (y = 2 OR z = 3)');
  assert.equal(s.kind, 'insert');
  if (s.kind !== 'insert') return;
  assert.equal(s.query.items?.[0].text, '(a + 1) * 2');
  assert.equal(s.query.where?.text, 'x = 1 AND (y = 2 OR z = 3)');
});

test('FILTER (WHERE …) and FIRST_VALUE become the engine’s aggregate calls in the text', () => {
  const [s] = parse(
    'INSERT INTO o SELECT count(*) FILTER (WHERE p > 1) AS n, first_value(x) AS f, sum(DISTINCT q) FILTER (WHERE (p < 3)) AS s FROM t',
  );
  if (s.kind !== 'insert') return assert.fail('not an insert');
  assert.deepEqual(
    s.query.items?.map((i) => i.text),
    ['count(CASE WHEN p > 1 THEN 1 END)', 'first(x)', 'sum(DISTINCT CASE WHEN (p < 3) THEN q END)'],
  );
});

test('a single-table query reads its qualified columns unqualified, and a ROW field stays a field', () => {
  const [s] = parse(
    'INSERT INTO o SELECT s.a, max(s.b) AS m, s.r.x AS x, bid.price FROM (SELECT a, b, r, bid FROM t) AS s WHERE s.a > 1 GROUP BY s.a',
  );
  if (s.kind !== 'insert') return assert.fail('not an insert');
  assert.deepEqual(
    s.query.items?.map((i) => i.text),
    ['a', 'max(b)', 'r.x', 'bid.price'],
  );
  assert.equal(s.query.where?.text, 'a > 1');
  assert.deepEqual(
    s.query.groupBy?.map((g) => g.text),
    ['a'],
  );
});

test('the queries of a UNION ALL may be written in parentheses', () => {
  const [s] = parse(
    'INSERT INTO o (SELECT a FROM t WHERE a > 1) UNION ALL (SELECT b FROM u) UNION ALL SELECT c FROM v',
  );
  if (s.kind !== 'insert') return assert.fail('not an insert');
  assert.equal(s.query.where?.text, 'a > 1');
  assert.deepEqual(
    s.query.unionAll?.map((q) => q.items?.[0].text),
    ['b', 'c'],
  );
});

test('a chain of UNION and UNION ALL is left-associative: where the kind changes, the chain so far is a subquery', () => {
  const [s] = parse(
    'INSERT INTO o SELECT a FROM t UNION SELECT b FROM u UNION DISTINCT SELECT c FROM v UNION ALL SELECT d FROM w',
  );
  if (s.kind !== 'insert') return assert.fail('not an insert');
  assert.equal(s.query.unionDistinct, undefined, 'the outer operation is the UNION ALL');
  assert.deepEqual(
    s.query.unionAll?.map((q) => q.items?.[0].text),
    ['d'],
  );
  const inner = s.query.from.kind === 'table' ? s.query.from.query : undefined;
  assert.equal(inner?.unionDistinct, 'INSERT INTO o SELECT a FROM t '.length);
  assert.deepEqual(
    [inner?.items?.[0].text, ...(inner?.unionAll ?? []).map((q) => q.items?.[0].text)],
    ['a', 'b', 'c'],
  );
});

test('PRIMARY KEY in its three forms, and METADATA columns with and without FROM and VIRTUAL', () => {
  const tables = [
    "CREATE TABLE t (a INT, b STRING NOT NULL, PRIMARY KEY (a, b) NOT ENFORCED) WITH ('connector' = 'file')",
    "CREATE TABLE t (a INT, b STRING NOT NULL, CONSTRAINT pk PRIMARY KEY (a, b) NOT ENFORCED) WITH ('connector' = 'file')",
  ];
  for (const text of tables) {
    const [s] = parse(text);
    assert.ok(s.kind === 'create_table');
    assert.deepEqual(
      s.primaryKey?.columns.map((c) => c.text),
      ['a', 'b'],
    );
    assert.deepEqual(
      s.columns.map((c) => c.type),
      ['INT', 'STRING NOT NULL'],
    );
  }
  const [s] = parse(
    "CREATE TABLE t (a INT PRIMARY KEY NOT ENFORCED, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL, partition BIGINT METADATA) WITH ('connector' = 'kafka')",
  );
  assert.ok(s.kind === 'create_table');
  assert.deepEqual(
    s.primaryKey?.columns.map((c) => c.text),
    ['a'],
  );
  assert.deepEqual(
    s.columns.map((c) => [c.name.text, c.type, c.metadata?.key, c.metadata?.virtual]),
    [
      ['a', 'INT', undefined, undefined],
      ['ts', 'TIMESTAMP_LTZ(3)', 'timestamp', true],
      ['partition', 'BIGINT', 'partition', false],
    ],
  );
  assert.equal(
    failure("CREATE TABLE t (a INT, PRIMARY KEY (a)) WITH ('connector' = 'file')"),
    "q.sql:1:39: expected NOT ENFORCED after the primary key, found ')': Sluice, as Flink, does not check that rows have unique keys, so a key must be declared NOT ENFORCED (CONFIG_PARSE)",
  );
  assert.match(
    failure(
      "CREATE TABLE t (a INT PRIMARY KEY NOT ENFORCED, PRIMARY KEY (a) NOT ENFORCED) WITH ('connector' = 'file')",
    ),
    /^q\.sql:1:49: table 't' has two primary keys/,
  );
});
