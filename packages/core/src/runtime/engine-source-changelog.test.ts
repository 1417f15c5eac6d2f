/**
 * A source of a table's changes (`SourceSpec.changelog`, `SourceBatch.kinds`): its kinds reach
 * the sinks beside their records — also when a record before them is a dead letter, which takes
 * it out of the batch — so that an upsert sink and a Debezium sink, folded into tables, hold the
 * table the changes describe, whatever the batch size.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { Type } from 'typebox';
import { DELETE, INSERT, type Row, type RowKind, UPDATE_AFTER } from '../record.ts';
import { defineSource } from '../spec.ts';
import { foldChangelogRows } from '../testing/conformance-support.ts';
import { Harness, planFrom, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';

/** The changes: inserts, updates (by the new row alone) and deletes of rows keyed by `id`. */
const changes: { kind: RowKind; row: Row }[] = [
  { kind: INSERT, row: { id: 1, name: 'ada', ts: 1000 } },
  { kind: INSERT, row: { id: 2, name: 'bob', ts: 1001 } },
  // No valid event time: a dead letter, which must not shift the kinds of the records after it.
  { kind: INSERT, row: { id: 9, name: 'bad', ts: 'never' } },
  { kind: UPDATE_AFTER, row: { id: 1, name: 'ada lovelace', ts: 1002 } },
  { kind: DELETE, row: { id: 2, ts: 1003 } },
  { kind: INSERT, row: { id: 3, name: 'cy', ts: 1004 } },
  { kind: UPDATE_AFTER, row: { id: 3, name: 'cyd', ts: 1005 } },
];

const source = defineSource({
  type: 'changes',
  summary: 'Replays a fixed list of changes, `batch` at a time.',
  delivery: 'exactly-once',
  config: Type.Object({ batch: Type.Integer({ minimum: 1 }) }),
  bounded: () => true,
  changelog: () => ({ mode: 'upsert', key: ['id'], reason: 'it replays changes' }),
  create: (config) => ({
    open: async (ctx) => {
      let next = (ctx.restored.changes as number | undefined) ?? 0;
      return [
        {
          partition: 'changes',
          read: async () => {
            if (next >= changes.length) return null;
            const slice = changes.slice(next, next + config.batch);
            next += slice.length;
            return { records: slice.map((c) => c.row), kinds: slice.map((c) => c.kind) };
          },
          position: () => next,
          close: async () => {},
        },
      ];
    },
  }),
});

const registry = testRegistry({ name: 'changes', components: [source] });
const h = new Harness();
afterEach(() => h.stopAll());

describe('a source of changes', () => {
  for (const batch of [1, 2, 7]) {
    test(`its kinds reach the sinks with their records (batches of ${batch})`, async () => {
      const dir = await h.dir();
      const yaml = `
name: source-changes
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: changes, batch: ${batch}, event_time: { field: ts } }
sinks:
  upserts: { type: file, path: ./out/upserts.jsonl, changelog: upsert, key: [id] }
  changes: { type: file, path: ./out/changes.jsonl, changelog: debezium, input: in }
`;
      const result = await h.run(await Job.create(planFrom(yaml, dir, registry), { registry }));
      assert.equal(result.metrics.deadLetters, 1);
      const table = async (file: string, format: 'upsert' | 'debezium') => {
        const text = await readFile(join(dir, 'out', file), 'utf8');
        const rows = text
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as Row);
        return foldChangelogRows(rows, format, 'id');
      };
      const want = [
        { id: 1, name: 'ada lovelace', ts: 1002 },
        { id: 3, name: 'cyd', ts: 1005 },
      ];
      assert.deepEqual(await table('upserts.jsonl', 'upsert'), want);
      assert.deepEqual(await table('changes.jsonl', 'debezium'), want);
    });
  }
});
