/**
 * The SQLite-backed rows (`store: disk`) answer as a plain sorted loop over a Map does — lookups,
 * prefix and range scans, pages, filters, with keys whose UTF-16 order differs from their UTF-8
 * order — and return to a checkpoint's state after later transactions (the undo log).
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StoreRows, UNDO_TAGS } from './view-store.ts';
import { type ScanOptions, ViewTable } from './view-table.ts';

/** A deterministic stream of numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// Keys from these pieces: a BMP character above the surrogates (U+FFFD) sorts after a surrogate
// pair in UTF-16 and before it in UTF-8, so a store ordered by UTF-8 bytes would fail.
const PIECES = ['a', 'b', 'ab', 'k1', 'k2', '\uFFFD', '\u{1F600}', 'é', ''];
const keyOf = (r: () => number) =>
  Array.from({ length: 1 + Math.floor(r() * 3) }, () => PIECES[Math.floor(r() * PIECES.length)]).join('');

/** The oracle: every row in a Map, a scan as a filter over its sorted keys. */
function oracleScan(rows: Map<string, { json: string; offset: number }>, o: Omit<ScanOptions, 'limit'>) {
  const prefix = o.prefix ?? '';
  return [...rows.keys()]
    .sort()
    .filter((k) => k.startsWith(prefix) && (o.start === undefined || k >= o.start))
    .filter((k) => (o.end === undefined || k < o.end) && (o.after === undefined || k > o.after))
    .filter((k) => o.match === undefined || o.match(rows.get(k)!.json, k));
}

async function withDir(run: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-view-store-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('lookups and scans of a store view equal a sorted loop over a Map, page by page', async () => {
  await withDir((dir) => {
    const r = random(7);
    const store = StoreRows.open({ dir, cacheKiB: 256 }, undefined, 'v');
    const table = new ViewTable('v', ['k'], 100, store);
    const oracle = new Map<string, { json: string; offset: number }>();
    for (let i = 1; i <= 3000; i++) {
      const key = keyOf(r);
      if (r() < 0.2) {
        table.delete(key);
        oracle.delete(key);
      } else {
        const json = JSON.stringify({ k: key, v: i % 13 });
        table.upsert(key, json);
        oracle.set(key, { json, offset: i });
      }
      if (i % 700 === 0) store.commit(i);
    }
    assert.equal(table.size, oracle.size);
    for (const key of [...oracle.keys(), 'absent', '\uD800']) {
      const row = table.get(key);
      assert.deepEqual(row && { json: row.json, offset: row.offset }, oracle.get(key), key);
    }
    const everyThird = (json: string) => (JSON.parse(json) as { v: number }).v % 3 === 0;
    const cases: Omit<ScanOptions, 'limit'>[] = [
      {},
      { prefix: 'a' },
      { prefix: '\u{1F600}' },
      { start: 'ab', end: 'k2' },
      { start: '\uFFFD' },
      { prefix: 'k', start: 'k1\uFFFD', end: 'k2b' },
      { match: everyThird },
      { prefix: 'b', match: everyThird },
    ];
    for (const c of cases)
      for (const limit of [1, 7, 1000]) {
        const want = oracleScan(oracle, c);
        const seen: string[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 10_000; pages++) {
          const page = table.scan({
            ...c,
            limit,
            maxExamined: 50,
            ...(after === undefined ? {} : { after }),
          });
          seen.push(...page.rows.map((row) => row.key));
          for (const row of page.rows) assert.equal(row.json, oracle.get(row.key)!.json);
          if (page.next === undefined) break;
          after = page.next;
        }
        assert.deepEqual(seen, want, `${JSON.stringify({ ...c, match: !!c.match })} limit ${limit}`);
      }
    table.dispose();
  });
});

test('a store reopened at an earlier checkpoint holds exactly that checkpoint’s rows', async () => {
  await withDir((dir) => {
    const states = new Map<number, Map<string, string>>();
    const state = new Map<string, string>();
    let store = StoreRows.open({ dir, cacheKiB: 256 }, undefined, 'v');
    const r = random(3);
    let offset = 0;
    for (let id = 1; id <= 6; id++) {
      for (let i = 0; i < 400; i++) {
        const key = `k${Math.floor(r() * 300)}`;
        if (r() < 0.25) {
          store.delete(key);
          state.delete(key);
        } else {
          store.set(key, `"${id}.${i}"`, ++offset);
          state.set(key, `"${id}.${i}"`);
        }
      }
      store.commit(id);
      states.set(id, new Map(state));
    }
    // Written after checkpoint 6 and never committed: a crash drops it.
    store.set('k1', '"lost"', ++offset);
    store.dispose();
    const rowsOf = (s: StoreRows) => new Map([...s.all()].map(([k, json]) => [k, json]));
    for (const id of [6, 4, 2]) {
      store = StoreRows.open({ dir, cacheKiB: 256 }, id, 'v');
      assert.deepEqual(rowsOf(store), states.get(id), `checkpoint ${id}`);
      assert.equal(store.size, states.get(id)!.size);
      assert.equal(store.tag, id);
      store.dispose();
    }
    // Having gone back to 2, the store cannot move forward to 4 again.
    assert.throws(() => StoreRows.open({ dir, cacheKiB: 256 }, 4, 'v'), { code: 'CHECKPOINT_INCOMPATIBLE' });
    // Without a checkpoint the view starts empty.
    store = StoreRows.open({ dir, cacheKiB: 256 }, undefined, 'v');
    assert.equal(store.size, 0);
    assert.deepEqual([...store.all()], []);
    store.dispose();
  });
});

test(`a store keeps the undo of its last ${UNDO_TAGS} checkpoints and refuses to reach older ones`, async () => {
  await withDir((dir) => {
    let store = StoreRows.open({ dir, cacheKiB: 256 }, undefined, 'v');
    for (let id = 1; id <= UNDO_TAGS + 3; id++) {
      store.set('k', `${id}`, id);
      store.commit(id);
    }
    store.dispose();
    assert.throws(() => StoreRows.open({ dir, cacheKiB: 256 }, 2, 'v'), {
      code: 'CHECKPOINT_INCOMPATIBLE',
      message: /cannot return to checkpoint 2/,
    });
    // After commits 1 … UNDO_TAGS + 3, the newest tag and the UNDO_TAGS before it are reachable.
    const oldest = 3;
    store = StoreRows.open({ dir, cacheKiB: 256 }, oldest, 'v');
    assert.equal(store.get('k')?.json, `${oldest}`);
    store.dispose();
  });
});

test('a store view holds many times its page-cache bound and still answers in order', async () => {
  await withDir(async (dir) => {
    const cacheKiB = 1024;
    const store = StoreRows.open({ dir, cacheKiB }, undefined, 'big');
    const table = new ViewTable('big', ['id'], 10, store);
    const rows = 60_000;
    const pad = 'x'.repeat(150);
    const key = (i: number) => `id${String(i).padStart(6, '0')}`;
    for (let i = 0; i < rows; i++) table.upsert(key(i), JSON.stringify({ id: i, pad }));
    store.commit(1);
    const { size } = await stat(store.file);
    assert.ok(size > 8 * cacheKiB * 1024, `the file (${size} bytes) is well above the cache bound`);
    assert.equal(table.size, rows);
    for (const i of [0, 1, 31_337, rows - 1]) assert.equal(JSON.parse(table.get(key(i))!.json).id, i);
    let seen = 0;
    let after: string | undefined;
    for (;;) {
      const page = table.scan({ limit: 1000, ...(after === undefined ? {} : { after }) });
      for (const row of page.rows) assert.equal(row.key, key(seen++));
      if (page.next === undefined) break;
      after = page.next;
    }
    assert.equal(seen, rows);
    table.dispose();
  });
});
