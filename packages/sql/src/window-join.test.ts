/**
 * Window joins in SQL against a plain loop: the golden `window-join/` expected files, and
 * generated inputs (TUMBLE, HOP and CUMULATE; inner, LEFT, RIGHT and FULL OUTER joins) run at
 * several batch sizes, must give the rows the loop computes — every window of each record, the
 * pairs of equal non-NULL keys in each window, and for an outer join each row left without a
 * partner in a window, padded with NULL. Likewise two window aggregates joined on their bounds
 * (Nexmark q8's form), which are planned as a window join too.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { errorOf, outputs, resolveSql, runPlan } from './test-support.ts';

interface Rec {
  readonly id: string;
  readonly num: number | null;
  readonly ts: number;
}

type Shape = { type: 'TUMBLE'; size: number } | { type: 'HOP' | 'CUMULATE'; step: number; size: number };
type Kind = 'inner' | 'left' | 'right' | 'full';

/** The windows a record at `ts` falls in, as [start, end]. */
function windowsOf(ts: number, w: Shape): [number, number][] {
  const floor = (n: number) => Math.floor(ts / n) * n;
  if (w.type === 'TUMBLE') return [[floor(w.size), floor(w.size) + w.size]];
  const out: [number, number][] = [];
  if (w.type === 'HOP') for (let s = floor(w.step); s > ts - w.size; s -= w.step) out.push([s, s + w.size]);
  else
    for (let end = floor(w.size) + w.step; end <= floor(w.size) + w.size; end += w.step)
      if (ts < end) out.push([floor(w.size), end]);
  return out;
}

/** The join's rows as `l_id|r_id|start|end` (an absent side's id empty), sorted. */
function oracle(left: readonly Rec[], right: readonly Rec[], w: Shape, kind: Kind): string[] {
  const byWindow = new Map<string, [Rec[], Rec[]]>();
  for (const [side, recs] of [left, right].entries())
    for (const r of recs)
      for (const [s, e] of windowsOf(r.ts, w)) {
        const k = `${s}|${e}`;
        const entry = byWindow.get(k) ?? [[], []];
        byWindow.set(k, entry);
        entry[side].push(r);
      }
  const rows: string[] = [];
  for (const [k, [ls, rs]] of byWindow) {
    const matched = new Set<Rec>();
    for (const l of ls) {
      let any = false;
      for (const r of rs)
        if (l.num !== null && l.num === r.num) {
          rows.push(`${l.id}|${r.id}|${k}`);
          matched.add(r);
          any = true;
        }
      if (!any && (kind === 'left' || kind === 'full')) rows.push(`${l.id}||${k}`);
    }
    if (kind === 'right' || kind === 'full')
      for (const r of rs) if (!matched.has(r)) rows.push(`|${r.id}|${k}`);
  }
  return rows.sort();
}

/** Records out of order by less than the watermark's 2 s, some keys NULL. */
function generate(seed: number, n: number, prefix: string): Rec[] {
  let state = seed;
  const next = (m: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return Math.floor(state / 65_536) % m;
  };
  const recs: Rec[] = [];
  for (let i = 0; i < n; i++) {
    const key = next(7);
    recs.push({ id: `${prefix}${i}`, num: key === 6 ? null : key, ts: 10_000 + i * 170 - next(11) * 150 });
  }
  return recs;
}

const lines = (recs: readonly Rec[]) => `${recs.map((r) => JSON.stringify(r)).join('\n')}\n`;

/** `TUMBLE(TABLE t, DESCRIPTOR(ts), …)` (or HOP, CUMULATE) over `table`. */
function windowCall(table: string, w: Shape): string {
  const s = (ms: number) => `INTERVAL '${ms / 1000}' SECOND`;
  const args = w.type === 'TUMBLE' ? s(w.size) : `${s(w.step)}, ${s(w.size)}`;
  return `${w.type}(TABLE ${table}, DESCRIPTOR(ts), ${args})`;
}

function tvf(table: string, w: Shape): string {
  return `(SELECT * FROM TABLE(${windowCall(table, w)}))`;
}

const KINDS: readonly Kind[] = ['inner', 'left', 'right', 'full'];
const JOINS = { inner: 'JOIN', left: 'LEFT JOIN', right: 'RIGHT JOIN', full: 'FULL OUTER JOIN' };

function script(w: Shape): string {
  const table = (name: string, file: string) =>
    `CREATE TABLE ${name} (id STRING, num BIGINT, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './${file}', 'format' = 'json');`;
  const parts = [table('lefts', 'left.jsonl'), table('rights', 'right.jsonl')];
  for (const kind of KINDS)
    parts.push(
      `CREATE TABLE out_${kind} (l_id STRING, r_id STRING, ws BIGINT, we BIGINT)
WITH ('connector' = 'file', 'path' = './out/${kind}.jsonl');
INSERT INTO out_${kind}
SELECT L.id, R.id, COALESCE(L.window_start, R.window_start), COALESCE(L.window_end, R.window_end)
FROM ${tvf('lefts', w)} L ${JOINS[kind]} ${tvf('rights', w)} R
  ON L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end;`,
    );
  return parts.join('\n');
}

const asKey = (line: string) => {
  const o = JSON.parse(line) as { l_id: string | null; r_id: string | null; ws: number; we: number };
  return `${o.l_id ?? ''}|${o.r_id ?? ''}|${o.ws}|${o.we}`;
};

const SHAPES: readonly Shape[] = [
  { type: 'TUMBLE', size: 2000 },
  { type: 'HOP', step: 1000, size: 3000 },
  { type: 'CUMULATE', step: 1000, size: 3000 },
];

for (const w of SHAPES) {
  test(`a ${w.type} window join (inner, LEFT, RIGHT, FULL) equals a plain loop at several batch sizes`, async () => {
    const left = generate(11, 300, 'L');
    const right = generate(29, 300, 'R');
    const want = Object.fromEntries(KINDS.map((k) => [k, oracle(left, right, w, k)]));
    assert.ok(want.inner.length > 50, `the input should give many pairs, got ${want.inner.length}`);
    assert.ok(want.full.length > want.inner.length + 20, 'the input should leave rows unmatched');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-window-join-'));
    try {
      writeFileSync(join(dir, 'left.jsonl'), lines(left));
      writeFileSync(join(dir, 'right.jsonl'), lines(right));
      const plan = resolveSql(script(w), join(dir, 'query.sql'));
      assert.deepEqual(
        plan.steps
          .filter((s) => s.type === 'join')
          .map((s) => (s.config as { window?: unknown }).window !== undefined),
        [true, true, true, true],
        'each query is planned as a window join',
      );
      for (const batchSize of [1, 7, 1000]) {
        rmSync(join(dir, 'out'), { recursive: true, force: true });
        await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
        const got = outputs(dir);
        for (const kind of KINDS)
          assert.deepEqual(
            (got[`${kind}.jsonl`] ?? []).map(asKey).sort(),
            want[kind],
            `${kind}, batches of ${batchSize}`,
          );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('the golden window-join output is what a plain loop computes from its input', () => {
  const folder = join(import.meta.dirname, 'golden', 'window-join');
  const read = (f: string) =>
    readFileSync(join(folder, f), 'utf8')
      .split('\n')
      .filter((l) => l !== '');
  const [left, right] = ['left.jsonl', 'right.jsonl'].map((f) => read(f).map((l) => JSON.parse(l) as Rec));
  const w: Shape = { type: 'TUMBLE', size: 5000 };
  const pairs = read('expected/pairs.jsonl').map((l) => {
    const o = JSON.parse(l) as { l_id: string; r_id: string; window_start: number; window_end: number };
    return `${o.l_id}|${o.r_id}|${o.window_start}|${o.window_end}`;
  });
  assert.deepEqual(pairs.sort(), oracle(left, right, w, 'inner'));
  const everyone = read('expected/everyone.jsonl').map((l) => {
    const o = JSON.parse(l) as {
      l_id: string | null;
      r_id: string | null;
      window_start: number;
      window_end: number;
    };
    return `${o.l_id ?? ''}|${o.r_id ?? ''}|${o.window_start}|${o.window_end}`;
  });
  assert.deepEqual(everyone.sort(), oracle(left, right, w, 'full'));
});

test('a window join of a HOP and a TUMBLE, or on one bound only, is refused at the clause', () => {
  const tables = `CREATE TABLE a (k BIGINT, ts BIGINT, WATERMARK FOR ts AS ts) WITH ('connector' = 'file', 'path' = 'a.jsonl', 'format' = 'json');
CREATE TABLE b (k BIGINT, ts BIGINT, WATERMARK FOR ts AS ts) WITH ('connector' = 'file', 'path' = 'b.jsonl', 'format' = 'json');
CREATE TABLE o (k BIGINT) WITH ('connector' = 'file', 'path' = 'o.jsonl');
`;
  const oneBound = `${tables}INSERT INTO o SELECT x.k FROM (SELECT * FROM TABLE(TUMBLE(TABLE a, DESCRIPTOR(ts), INTERVAL '5' SECOND))) x
JOIN (SELECT * FROM TABLE(TUMBLE(TABLE b, DESCRIPTOR(ts), INTERVAL '5' SECOND))) y ON x.k = y.k AND x.window_start = y.window_start;`;
  assert.match(errorOf(oneBound, 'q.sql'), /q\.sql:5:\d+.*add x\.window_end = y\.window_end/s);
  const crossed = `${tables}INSERT INTO o SELECT x.k FROM (SELECT * FROM TABLE(TUMBLE(TABLE a, DESCRIPTOR(ts), INTERVAL '5' SECOND))) x
JOIN (SELECT * FROM TABLE(TUMBLE(TABLE b, DESCRIPTOR(ts), INTERVAL '5' SECOND))) y ON x.k = y.k AND x.window_start = y.window_end AND x.window_end = y.window_end;`;
  assert.match(errorOf(crossed, 'q.sql'), /same bound of the other input/);
  const session = `${tables}INSERT INTO o SELECT x.k FROM (SELECT * FROM TABLE(SESSION(TABLE a, DESCRIPTOR(ts), INTERVAL '5' SECOND))) x
JOIN (SELECT * FROM TABLE(SESSION(TABLE b, DESCRIPTOR(ts), INTERVAL '5' SECOND))) y ON x.k = y.k AND x.window_start = y.window_start AND x.window_end = y.window_end;`;
  assert.match(errorOf(session, 'q.sql'), /TUMBLE, HOP or CUMULATE/);
});

/** Per window and key (`num`, NULL included), the count of each side's records. */
function counts(recs: readonly Rec[], w: Shape): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of recs)
    for (const [s, e] of windowsOf(r.ts, w)) {
      const k = `${r.num}|${s}|${e}`;
      out.set(k, (out.get(k) ?? 0) + 1);
    }
  return out;
}

/** Two window aggregates joined on key and bounds (Nexmark q8's form), as `num|ln|rn|start|end`. */
function aggregateOracle(
  left: readonly Rec[],
  right: readonly Rec[],
  w: Shape,
  kind: 'inner' | 'full',
): string[] {
  const [l, r] = [counts(left, w), counts(right, w)];
  const rows: string[] = [];
  // The key as the output writes it: NULL (a group of its own on each side, matching nothing) is empty.
  const cut = (k: string) => k.split('|').map((v) => (v === 'null' ? '' : v));
  for (const [k, n] of l) {
    const [num, s, e] = cut(k);
    const m = num === '' ? undefined : r.get(k);
    if (m !== undefined) rows.push(`${num}|${n}|${m}|${s}|${e}`);
    else if (kind === 'full') rows.push(`${num}|${n}||${s}|${e}`);
  }
  if (kind === 'full')
    for (const [k, m] of r) {
      const [num, s, e] = cut(k);
      if (num === '' || !l.has(k)) rows.push(`${num}||${m}|${s}|${e}`);
    }
  return rows.sort();
}

for (const w of SHAPES) {
  test(`two ${w.type} window aggregates joined on their bounds are a window join equal to a plain loop`, async () => {
    const left = generate(5, 300, 'L');
    const right = generate(17, 300, 'R');
    const agg = (table: string) =>
      `(SELECT num, window_start AS ws, window_end AS we, count(*) AS n FROM TABLE(${windowCall(table, w)}) GROUP BY num, window_start, window_end)`;
    const text = [
      ...['lefts', 'rights'].map(
        (name) =>
          `CREATE TABLE ${name} (id STRING, num BIGINT, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './${name === 'lefts' ? 'left' : 'right'}.jsonl', 'format' = 'json');`,
      ),
      ...(['inner', 'full'] as const).map(
        (kind) => `CREATE TABLE out_${kind} (num BIGINT, ln BIGINT, rn BIGINT, ws BIGINT, we BIGINT)
WITH ('connector' = 'file', 'path' = './out/${kind}.jsonl');
INSERT INTO out_${kind}
SELECT COALESCE(L.num, R.num), L.n, R.n, COALESCE(L.ws, R.ws), COALESCE(L.we, R.we)
FROM ${agg('lefts')} L ${JOINS[kind]} ${agg('rights')} R ON L.num = R.num AND L.ws = R.ws AND L.we = R.we;`,
      ),
    ].join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-window-join-agg-'));
    try {
      writeFileSync(join(dir, 'left.jsonl'), lines(left));
      writeFileSync(join(dir, 'right.jsonl'), lines(right));
      const plan = resolveSql(text, join(dir, 'query.sql'));
      const joins = plan.steps.filter((s) => s.type === 'join');
      assert.deepEqual(
        joins.map((s) => (s.config as { window?: unknown }).window),
        joins.map(() => ({ type: 'tumbling', size: `${(w.type === 'TUMBLE' ? w.size : w.step) / 1000}s` })),
      );
      for (const batchSize of [1, 7, 1000]) {
        rmSync(join(dir, 'out'), { recursive: true, force: true });
        await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
        const got = outputs(dir);
        for (const kind of ['inner', 'full'] as const) {
          const want = aggregateOracle(left, right, w, kind);
          assert.ok(want.length > 20, `${kind}: the input should give many rows`);
          const rows = (got[`${kind}.jsonl`] ?? []).map((line) => {
            const o = JSON.parse(line) as { [k: string]: number | null };
            return [o.num, o.ln, o.rn, o.ws, o.we].map((v) => (v === null ? '' : String(v))).join('|');
          });
          assert.deepEqual(rows.sort(), want, `${kind}, batches of ${batchSize}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('window join inputs as common tables, with a filter, renamed bounds and t.*, equal a plain loop', async () => {
  const w: Shape = { type: 'HOP', step: 1000, size: 3000 };
  const left = generate(3, 200, 'L');
  const right = generate(41, 200, 'R');
  const want = oracle(
    left.filter((r) => r.num !== 3),
    right,
    w,
    'right',
  );
  const text = `CREATE TABLE lefts (id STRING, num BIGINT, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './left.jsonl', 'format' = 'json');
CREATE TABLE rights (id STRING, num BIGINT, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './right.jsonl', 'format' = 'json');
CREATE TABLE out_t (id STRING, num BIGINT, ts BIGINT, window_start BIGINT, window_end BIGINT, window_time BIGINT,
  r_id STRING, s BIGINT, e BIGINT)
WITH ('connector' = 'file', 'path' = './out/right.jsonl');
INSERT INTO out_t
WITH x AS (SELECT * FROM TABLE(${windowCall('lefts', w)}) WHERE num <> 3),
     y AS (SELECT id, num, window_start AS s, window_end AS e FROM TABLE(${windowCall('rights', w)}))
SELECT x.*, y.id, y.s, y.e FROM x RIGHT JOIN y ON x.num = y.num AND x.window_start = y.s AND x.window_end = y.e;`;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-window-join-cte-'));
  try {
    writeFileSync(join(dir, 'left.jsonl'), lines(left));
    writeFileSync(join(dir, 'right.jsonl'), lines(right));
    await runPlan(resolveSql(text, join(dir, 'query.sql')));
    const rows = (outputs(dir)['right.jsonl'] ?? []).map((line) => {
      const o = JSON.parse(line) as { [k: string]: string | number | null };
      // x's bounds are the window's where x is present, NULL where it is not.
      if (o.id !== null)
        assert.deepEqual([o.window_start, o.window_end, o.window_time], [o.s, o.e, Number(o.e) - 1]);
      else assert.deepEqual([o.window_start, o.window_end, o.window_time], [null, null, null]);
      return `${o.id ?? ''}|${o.r_id}|${o.s}|${o.e}`;
    });
    assert.ok(want.length > 50);
    assert.deepEqual(rows.sort(), want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
