/**
 * `shareExpressions`: a costly call a filter always evaluates and the projection after it also
 * computes is computed once, by a map between the filter's earlier conjuncts and the rest — the
 * plan's shape, and its output against a plain loop over the same records at several batch sizes.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { compileSql } from './index.ts';
import { outputs, registry, resolveSql, runPlan } from './test-support.ts';

const PATTERN = '(&|^)id=([^&]*)';
const tables = `CREATE TABLE t (kind INT, url STRING, channel STRING)
WITH ('connector' = 'file', 'path' = './in.jsonl', 'format' = 'json');
CREATE TABLE o (channel STRING, id STRING) WITH ('connector' = 'file', 'path' = './out/out.jsonl');
`;
const q21 = `INSERT INTO o SELECT channel,
  CASE WHEN lower(channel) = 'apple' THEN '0' ELSE REGEXP_EXTRACT(url, '${PATTERN}', 2) END
FROM t WHERE kind = 2 AND (REGEXP_EXTRACT(url, '${PATTERN}', 2) IS NOT NULL OR lower(channel) = 'apple');`;

function steps(sql: string): string[] {
  const plan = compileSql(`${tables}${sql}`, 'q.sql', { registry });
  return plan.steps.map((s) => `${s.id}: ${s.type} <- ${s.inputs.join(', ')} ${JSON.stringify(s.config)}`);
}

test('the call is computed once, after the conjuncts before it', () => {
  assert.deepEqual(steps(q21), [
    'o-where: filter <- t {"where":"kind = 2"}',
    `o-where-shared: map <- o-where {"fields":{"_shared_1":"regexp_extract(url, '${PATTERN}', 2)"}}`,
    `o-where-rest: filter <- o-where-shared {"where":"_shared_1 IS NOT NULL OR lower(channel) = 'apple'"}`,
    `o-select: map <- o-where-rest {"select":["channel"],"fields":{"id":"CASE WHEN lower(channel) = 'apple' THEN '0' ELSE _shared_1 END"}}`,
  ]);
});

test('a call the filter evaluates only on some records is not moved before it', () => {
  const planned = steps(`INSERT INTO o SELECT channel, REGEXP_EXTRACT(url, '${PATTERN}', 2)
FROM t WHERE lower(channel) = 'apple' OR REGEXP_EXTRACT(url, '${PATTERN}', 2) IS NOT NULL;`);
  assert.equal(planned.length, 2);
  assert.ok(planned.every((s) => !s.includes('_shared')));
});

test('the output equals a plain loop, at batch sizes 1, 7 and 1000, NULL URLs included', async () => {
  const channels = ['Apple', 'apple', 'Google', 'channel-1', 'channel-22'];
  const records: { kind: number; url: string | null; channel: string }[] = [];
  for (let i = 0; i < 300; i++)
    records.push({
      kind: i % 5 === 0 ? 1 : 2,
      url: i % 11 === 0 ? null : i % 3 === 0 ? `https://x/item?q=1&id=${i}&z=2` : `https://x/item?q=${i}`,
      channel: channels[i % channels.length],
    });
  const want: string[] = [];
  const re = /(&|^)id=([^&]*)/;
  for (const r of records) {
    if (r.kind !== 2) continue;
    const extracted = r.url === null ? null : (re.exec(r.url)?.[2] ?? null);
    const apple = r.channel.toLowerCase() === 'apple';
    if (extracted === null && !apple) continue;
    want.push(JSON.stringify({ channel: r.channel, id: apple ? '0' : extracted }));
  }
  assert.ok(
    want.length > 50 && want.some((w) => w.includes('"id":"0"')) && want.some((w) => /"id":"\d\d/.test(w)),
  );
  for (const batchSize of [1, 7, 1000]) {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-shared-'));
    try {
      writeFileSync(join(dir, 'in.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
      const plan = resolveSql(`${tables}${q21}`, join(dir, 'q.sql'));
      assert.ok(plan.steps.some((s) => s.id === 'o-where-shared'));
      await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
      const got = (outputs(dir)['out.jsonl'] ?? []).map((l) => {
        const { channel, id } = JSON.parse(l) as { channel: string; id: string | null };
        return JSON.stringify({ channel, id });
      });
      assert.deepEqual(got, want, `batches of ${batchSize}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
