/**
 * A user-defined table function (`defineTableFunction`) through a real job at batch sizes 1, 7
 * and 1000, against a plain loop over the same records: the rows of a CROSS JOIN LATERAL and of
 * a LEFT JOIN LATERAL … ON TRUE, and the records on which the function throws in the dead letters.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Plan } from '@sluice/core';
import { defineTestAggregates } from './test-functions.ts';
import { outputs, resolveSql, runPlan } from './test-support.ts';

defineTestAggregates();

const SCRIPT = `
CREATE TABLE posts (id BIGINT, body STRING) WITH ('connector' = 'file', 'path' = './in.jsonl', 'format' = 'json');
CREATE TABLE pairs (id BIGINT, word STRING, pos BIGINT) WITH ('connector' = 'file', 'path' = './out/pairs.jsonl');
CREATE TABLE kept (id BIGINT, word STRING) WITH ('connector' = 'file', 'path' = './out/kept.jsonl');
INSERT INTO pairs SELECT p.id, w.word, w.position FROM posts p CROSS JOIN LATERAL TABLE(split_words(p.body)) AS w;
INSERT INTO kept SELECT id, word FROM posts LEFT JOIN LATERAL TABLE(split_words(body)) ON TRUE;`;

test('a table function in CROSS JOIN LATERAL and LEFT JOIN LATERAL equals a plain loop at several batch sizes; a throw is a dead letter', async () => {
  const vocabulary = ['a', 'bb', 'ccc', '!', 'dd'];
  let x = 3;
  const next = () => {
    x = (x * 48271) % 2147483647;
    return x;
  };
  const posts = Array.from({ length: 300 }, (_, id) => ({
    id,
    body:
      next() % 10 === 0
        ? null
        : Array.from({ length: next() % 4 }, () => vocabulary[next() % (next() % 7 === 0 ? 5 : 3)]).join(' '),
  }));
  const throws = (b: string | null) => b?.includes('!') === true;
  const words = (b: string | null) => (b === null ? [] : b.split(' ').filter((w) => w !== ''));
  const pairs: string[] = [];
  const kept: string[] = [];
  for (const p of posts) {
    if (throws(p.body)) continue;
    const ws = words(p.body);
    ws.forEach((word, i) => {
      pairs.push(JSON.stringify({ id: p.id, word, pos: i + 1 }));
    });
    if (ws.length === 0) kept.push(JSON.stringify({ id: p.id, word: null }));
    for (const word of ws) kept.push(JSON.stringify({ id: p.id, word }));
  }
  const bad = posts.filter((p) => throws(p.body)).length;
  assert.ok(bad > 5 && kept.length > pairs.length, 'the input should hold throwing and empty posts');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-udtf-'));
  try {
    writeFileSync(join(dir, 'in.jsonl'), `${posts.map((p) => JSON.stringify(p)).join('\n')}\n`);
    const resolved = resolveSql(SCRIPT, join(dir, 'query.sql'));
    const plan: Plan = { ...resolved, deadLetter: { type: 'file', config: { path: './out/dead.jsonl' } } };
    for (const batchSize of [1, 7, 1000]) {
      rmSync(join(dir, 'out'), { recursive: true, force: true });
      await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
      const got = outputs(dir);
      assert.deepEqual(got['pairs.jsonl'], pairs, `CROSS JOIN LATERAL, batches of ${batchSize}`);
      assert.deepEqual(got['kept.jsonl'], kept, `LEFT JOIN LATERAL, batches of ${batchSize}`);
      const dead = got['dead.jsonl'] ?? [];
      assert.equal(dead.length, 2 * bad, `dead letters, batches of ${batchSize}`);
      assert.ok(
        dead.every((l) => l.includes('split_words(): will not split')),
        dead[0],
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
