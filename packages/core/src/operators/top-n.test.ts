/**
 * `top_n` end to end: golden changelogs for the small cases, and on random input (ties, NULLs,
 * several keys) the changelog folded into a table equals a plain sort of the same input — for
 * batch sizes 1, 7 and 1024, with and without ranks, and across a restore from a checkpoint.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { Harness, planFrom, runCrashedAndRestored, testRegistry } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { memoryChannel } from '../testing/index.ts';
import { seededRandom } from '../testing/random.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

let channels = 0;

const yaml = (name: string, options: { batch: number; rank?: boolean; n?: number }) => `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${options.batch} }
sources:
  in: { type: memory, channel: ${name} }
dead_letter: { type: file, path: ./out/dead.jsonl }
steps:
  - id: top
    type: top_n
    key: [category]
    order_by: [price DESC, name]
    n: ${options.n ?? 3}${options.rank ? '\n    rank_field: rank' : ''}
sinks:
  changes: { type: file, path: ./out/changes.jsonl, changelog: debezium }
`;

async function lines(dir: string, file: string): Promise<Row[]> {
  const text = await readFile(join(dir, 'out', file), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Row);
}

async function run(records: readonly Row[], options: { batch: number; rank?: boolean; n?: number }) {
  const dir = await h.dir();
  const name = `top-${channels++}`;
  const channel = memoryChannel(name, ['p0']);
  channel.push('p0', ...records);
  channel.end();
  const job = await Job.create(planFrom(yaml(name, options), dir, registry), { registry });
  const result = await h.run(job);
  assert.equal(result.status, 'completed');
  return { dir, result, changes: await lines(dir, 'changes.jsonl'), dead: await lines(dir, 'dead.jsonl') };
}

/** Folds Debezium envelopes as a retract changelog into the multiset of rows, as JSON texts. */
function fold(changes: readonly Row[]): string[] {
  const rows = new Map<string, number>();
  for (const { before, after } of changes as { before: Row | null; after: Row | null }[]) {
    if (before !== null) {
      const text = JSON.stringify(before);
      const n = rows.get(text) ?? 0;
      assert.ok(n > 0, `a retraction of a row in the table: ${text}`);
      if (n === 1) rows.delete(text);
      else rows.set(text, n - 1);
    }
    if (after !== null) rows.set(JSON.stringify(after), (rows.get(JSON.stringify(after)) ?? 0) + 1);
  }
  return [...rows].flatMap(([text, n]) => Array<string>(n).fill(text)).sort();
}

/** The top rows by a plain stable sort of each category's records. */
function expected(records: readonly Row[], n: number, rank: boolean): string[] {
  const byCategory = new Map<unknown, Row[]>();
  for (const r of records) {
    if (typeof r.price === 'string') continue; // the dead letters
    const list = byCategory.get(r.category) ?? [];
    list.push(r);
    byCategory.set(r.category, list);
  }
  const out: string[] = [];
  for (const list of byCategory.values()) {
    const sorted = [...list].sort((a, b) => {
      const [pa, pb] = [a.price as number | null, b.price as number | null];
      if (pa !== pb) {
        if (pa === null) return 1;
        if (pb === null) return -1;
        return pb - pa;
      }
      return String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0;
    });
    sorted.slice(0, n).forEach((r, i) => {
      out.push(JSON.stringify(rank ? { ...r, rank: i + 1 } : r));
    });
  }
  return out.sort();
}

function input(count: number): Row[] {
  const random = seededRandom(17);
  return Array.from({ length: count }, (_, i) => {
    const roll = random();
    return {
      i,
      category: `c${Math.floor(random() * 4)}`,
      // Ties (few prices), NULLs, and a few text prices that cannot be ranked against numbers.
      price: roll < 0.05 ? null : roll < 0.07 ? 'n/a' : Math.floor(random() * 20),
      name: `n${Math.floor(random() * 5)}`,
    };
  });
}

describe('top_n', () => {
  test('golden: inserts as rows enter, deletes as they are pushed out, ties keep the earlier', async () => {
    const records = [
      { category: 'a', price: 5, name: 'x' },
      { category: 'a', price: 7, name: 'y' },
      { category: 'b', price: 1, name: 'z' },
      { category: 'a', price: 5, name: 'x' }, // equal to the first: ranks after it, out of a top 2
      { category: 'a', price: 9, name: 'w' }, // pushes the first out
    ];
    const { changes, result } = await run(records, { batch: 2, n: 2 });
    assert.deepEqual(
      changes.map((c) => [
        c.op,
        (c.before as Row | null)?.price ?? null,
        (c.after as Row | null)?.price ?? null,
      ]),
      [
        ['c', null, 5],
        ['c', null, 7],
        ['c', null, 1],
        ['d', 5, null],
        ['c', null, 9],
      ],
    );
    assert.equal(result.metrics.filtered, 1);
  });

  test('golden with ranks: rows whose rank moves are updated', async () => {
    const records = [
      { category: 'a', price: 5, name: 'x' },
      { category: 'a', price: 7, name: 'y' },
      { category: 'a', price: 6, name: 'v' },
    ];
    const { changes } = await run(records, { batch: 10, n: 2, rank: true });
    const brief = (r: unknown) => (r === null ? null : `${(r as Row).price}#${(r as Row).rank}`);
    assert.deepEqual(
      changes.map((c) => [c.op, brief(c.before), brief(c.after)]),
      [
        ['c', null, '5#1'],
        ['u', '5#1', '5#2'],
        ['c', null, '7#1'],
        ['d', '5#2', null],
        ['c', null, '6#2'],
      ],
    );
  });

  for (const rank of [false, true]) {
    test(`random input${rank ? ' with ranks' : ''}: the same changelog for batch sizes 1, 7 and 1024, folding into a plain sort`, async () => {
      const records = input(2000);
      const runs = [];
      for (const batch of [1, 7, 1024]) runs.push(await run(records, { batch, rank }));
      assert.deepEqual(runs[1].changes, runs[0].changes);
      assert.deepEqual(runs[2].changes, runs[0].changes);
      assert.deepEqual(
        runs.map((r) => r.dead.length),
        runs.map(() => records.filter((r) => r.price === 'n/a').length),
        'text prices are dead letters in every run',
      );
      assert.deepEqual(fold(runs[0].changes), expected(records, 3, rank));
      const m = runs[0].result.metrics;
      assert.equal(m.recordsIn, m.filtered + m.deadLetters + runs[0].result.metrics.steps.top.out);
    });
  }

  test('restored from a checkpoint mid-stream, the changelog folds into the same table', async () => {
    const dir = await h.dir();
    const name = 'top-restore';
    const channel = memoryChannel(name, ['p0']);
    const records = input(900);
    const plan = planFrom(yaml(name, { batch: 50, rank: true }), dir, registry);
    const result = await runCrashedAndRestored(h, registry, plan, channel, records, {
      checkpointAt: 400,
      crashAt: 600,
    });
    assert.equal(result.status, 'completed');
    const changes = await lines(dir, 'changes.jsonl');
    const uninterrupted = await run(records, { batch: 50, rank: true });
    assert.deepEqual(changes, uninterrupted.changes, 'the same changelog as a run without a crash');
    assert.deepEqual(fold(changes), expected(records, 3, true));
  });

  test('an append-only sink after top_n is refused; a bad order_by or n is a config error', async () => {
    const dir = await h.dir();
    const plain = yaml('top-refused', { batch: 10 }).replace(', changelog: debezium', '');
    await assert.rejects(Job.create(planFrom(plain, dir, registry), { registry }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'PLAN_CHANGELOG_MISMATCH');
      assert.match(err.message, /top_n/);
      return true;
    });
    const badExpr = yaml('top-bad', { batch: 10 }).replace('price DESC', 'price +');
    await assert.rejects(Job.create(planFrom(badExpr, dir, registry), { registry }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.deepEqual([err.code, err.step, err.path], ['EXPR_SYNTAX', 'top', 'order_by[0]']);
      return true;
    });
  });
});
