import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileSql } from './index.ts';
import { registry } from './test-support.ts';

const tables = `CREATE TABLE t (k BIGINT, r ROW<a BIGINT, b DOUBLE>, kind INT, c AS r.b * 2)
WITH ('connector' = 'file', 'path' = './in.jsonl');
CREATE VIEW v AS SELECT r.a, r.b, c FROM t WHERE kind = 2;
`;

function steps(sql: string): string[] {
  const plan = compileSql(`${tables}${sql}`, 'q.sql', { registry });
  return plan.steps.map((s) => `${s.type} <- ${s.inputs.join(', ')} ${JSON.stringify(s.config)}`);
}

test('a view, a filter and a projection over it become one filter and one map, as YAML writes them', () => {
  assert.deepEqual(
    steps(`CREATE TABLE o (a BIGINT, c DOUBLE) WITH ('connector' = 'file', 'path' = './o.jsonl');
INSERT INTO o SELECT a, c FROM v WHERE MOD(a, 3) = 0;`),
    [
      'filter <- t {"where":"kind = 2 AND mod(r.a, 3) = 0"}',
      'map <- v-select {"select":[],"fields":{"a":"r.a","c":"r.b * 2"}}',
    ],
  );
});

test('an expression read twice is not computed twice: those maps stay apart', () => {
  const planned =
    steps(`CREATE TABLE o (x DOUBLE, y DOUBLE) WITH ('connector' = 'file', 'path' = './o.jsonl');
INSERT INTO o SELECT c + 1, c - 1 FROM v;`);
  assert.equal(planned.length, 3);
  assert.deepEqual(planned[2], 'map <- v-select {"select":[],"fields":{"x":"c + 1","y":"c - 1"}}');
});

test('a step read by two queries is not fused into either', () => {
  const planned = steps(`CREATE TABLE o (a BIGINT) WITH ('connector' = 'file', 'path' = './o.jsonl');
CREATE TABLE p (b DOUBLE) WITH ('connector' = 'file', 'path' = './p.jsonl');
EXECUTE STATEMENT SET BEGIN
INSERT INTO o SELECT a FROM v;
INSERT INTO p SELECT b FROM v;
END;`);
  assert.ok(planned.some((s) => s.startsWith('map <- t-columns') || s.startsWith('map <- v-where')));
  assert.equal(planned.filter((s) => s.includes('<- v-select')).length, 2);
});

test('a table’s computed columns read by two filtered views are computed by each view after its filter', () => {
  const planned = steps(`CREATE VIEW w AS SELECT k, c FROM t WHERE kind = 3;
CREATE TABLE o (a BIGINT, c DOUBLE) WITH ('connector' = 'file', 'path' = './o.jsonl');
CREATE TABLE p (k BIGINT, c DOUBLE) WITH ('connector' = 'file', 'path' = './p.jsonl');
EXECUTE STATEMENT SET BEGIN
INSERT INTO o SELECT a, c FROM v;
INSERT INTO p SELECT k, c FROM w;
END;`);
  assert.deepEqual(planned, [
    'filter <- t {"where":"kind = 2"}',
    'filter <- t {"where":"kind = 3"}',
    'map <- t-columns {"select":[],"fields":{"a":"r.a","c":"r.b * 2"}}',
    'map <- t-columns-2 {"select":["k"],"fields":{"c":"r.b * 2"}}',
  ]);
});

test('a shared map stays shared when one of its readers is not a filter that can move before it', () => {
  const planned = steps(`CREATE TABLE o (a BIGINT) WITH ('connector' = 'file', 'path' = './o.jsonl');
CREATE TABLE p (c DOUBLE) WITH ('connector' = 'file', 'path' = './p.jsonl');
EXECUTE STATEMENT SET BEGIN
INSERT INTO o SELECT a FROM v;
INSERT INTO p SELECT c FROM t WHERE c > 1;
END;`);
  // The second filter reads c, which the map computes: it cannot go first, so the map is computed once.
  assert.equal(planned.filter((s) => s.startsWith('map <- t ')).length, 1, planned.join('\n'));
});
