/**
 * MATCH_RECOGNIZE against an independent computation: random tickers (a few symbols, rows out of
 * order within the watermark's bound) run through the engine as SQL at several batch sizes, and a
 * brute-force backtracking matcher written plainly here finds the matches the SQL standard
 * defines — per partition in time order, from each start the first match in priority order
 * (greedy quantifiers try one more row first, reluctant ones one fewer, an alternation its earlier
 * variable first), conditions with running semantics, WITHIN as a bound from the first row, then
 * the AFTER MATCH strategy — and computes the measures by hand. Both must give the same rows.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { outputs, resolveSql, runPlan } from './test-support.ts';

interface Tick {
  symbol: string;
  price: number;
  ts: number;
}

/** The rows a match took: each row with the variable it was mapped to. */
type Taken = { name: string; row: Tick }[];

/** What a DEFINE condition sees: the row tested and the rows of a variable so far, the tested one included. */
interface Ctx {
  row: Tick;
  rows(name?: string): Tick[];
}

interface Variable {
  name: string;
  min: number;
  max: number;
  greedy: boolean;
  define?: (c: Ctx) => boolean;
}

interface Query {
  name: string;
  sql: string;
  partitioned: boolean;
  /** The measures' names, in order. */
  columns: string[];
  /** The elements of PATTERN, each one variable or an alternation. */
  pattern: Variable[][];
  within?: number;
  skip: 'past_last_row' | 'to_next_row' | { to: 'first' | 'last'; name: string };
  measures: (taken: Taken) => Record<string, unknown>;
}

const v = (name: string, q: string, define?: (c: Ctx) => boolean): Variable => {
  const greedy = !(q.length > 1 && q.endsWith('?'));
  const core = greedy ? q : q.slice(0, -1);
  const [min, max] =
    core === ''
      ? [1, 1]
      : core === '+'
        ? [1, Infinity]
        : core === '*'
          ? [0, Infinity]
          : core === '?'
            ? [0, 1]
            : ((): [number, number] => {
                const m = /^\{(\d*)(,?)(\d*)\}$/.exec(core)!;
                const lo = m[1] === '' ? 0 : Number(m[1]);
                return [lo, m[2] === '' ? lo : m[3] === '' ? Infinity : Number(m[3])];
              })();
  return { name, min, max, greedy, ...(define ? { define } : {}) };
};

const of = (taken: Taken, name?: string) =>
  taken.filter((t) => name === undefined || t.name === name).map((t) => t.row);
const last = <T>(list: readonly T[], n = 0): T | undefined => list[list.length - 1 - n];
const sum = (list: readonly number[]) => (list.length === 0 ? null : list.reduce((a, b) => a + b, 0));

/** The first match from row `start` in priority order, or null. */
function matchAt(rows: readonly Tick[], start: number, q: Query): Taken | null {
  const t0 = rows[start].ts;
  const fits = (pos: number) => pos < rows.length && (q.within === undefined || rows[pos].ts - t0 < q.within);
  const tests = (x: Variable, pos: number, taken: Taken): boolean => {
    if (x.define === undefined) return true;
    const row = rows[pos];
    const now: Taken = [...taken, { name: x.name, row }];
    return x.define({ row, rows: (name) => of(now, name) });
  };
  const element = (e: number, pos: number, taken: Taken): Taken | null => {
    if (e === q.pattern.length) return taken.length > 0 ? taken : null;
    for (const x of q.pattern[e]) {
      const found = repeat(e, x, 0, pos, taken);
      if (found) return found;
    }
    return null;
  };
  const repeat = (e: number, x: Variable, count: number, pos: number, taken: Taken): Taken | null => {
    const more = () =>
      count < x.max && fits(pos) && tests(x, pos, taken)
        ? repeat(e, x, count + 1, pos + 1, [...taken, { name: x.name, row: rows[pos] }])
        : null;
    const stop = () => (count >= x.min ? element(e + 1, pos, taken) : null);
    return x.greedy ? (more() ?? stop()) : (stop() ?? more());
  };
  return element(0, start, []);
}

/** Every match of one partition's rows (in time order), with its AFTER MATCH strategy. */
function matchAll(rows: readonly Tick[], q: Query): Taken[] {
  const out: Taken[] = [];
  let i = 0;
  while (i < rows.length) {
    const taken = matchAt(rows, i, q);
    if (taken === null) {
      i++;
      continue;
    }
    out.push(taken);
    const index = (row: Tick) => rows.indexOf(row);
    let next: number;
    if (q.skip === 'past_last_row') next = index(taken[taken.length - 1].row) + 1;
    else if (q.skip === 'to_next_row') next = i + 1;
    else {
      const mine = of(taken, q.skip.name);
      next = mine.length === 0 ? i + 1 : index(q.skip.to === 'first' ? mine[0] : mine[mine.length - 1]);
    }
    i = Math.max(next, i + 1);
  }
  return out;
}

const QUERIES: Query[] = [
  {
    name: 'dip',
    partitioned: true,
    columns: ['a_ts', 'c_ts', 'bs', 'b_sum', 'avg_all', 'b_before_last'],
    sql: `PARTITION BY symbol ORDER BY ts
      MEASURES FIRST(A.ts) AS a_ts, LAST(C.ts) AS c_ts, COUNT(B.price) AS bs, SUM(B.price) AS b_sum,
        AVG(price) AS avg_all, LAST(B.price, 1) AS b_before_last
      ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
      PATTERN (A B+? C)
      DEFINE A AS A.price > 5, B AS B.price < LAST(A.price), C AS C.price > LAST(B.price) + 1`,
    pattern: [
      [v('A', '', (c) => c.row.price > 5)],
      [v('B', '+?', (c) => c.row.price < last(c.rows('A'))!.price)],
      [v('C', '', (c) => c.row.price > last(c.rows('B'))!.price + 1)],
    ],
    skip: 'past_last_row',
    measures: (t) => {
      const all = of(t).map((r) => r.price);
      return {
        a_ts: of(t, 'A')[0].ts,
        c_ts: last(of(t, 'C'))!.ts,
        bs: of(t, 'B').length,
        b_sum: sum(of(t, 'B').map((r) => r.price)),
        avg_all: sum(all)! / all.length,
        b_before_last: last(of(t, 'B'), 1)?.price ?? null,
      };
    },
  },
  {
    name: 'climb',
    partitioned: true,
    columns: ['low', 'high', 'n', 'top', 'second', 'at'],
    sql: `PARTITION BY symbol ORDER BY ts
      MEASURES FIRST(U.price) AS low, LAST(U.price) AS high, COUNT(*) AS n, MAX(price) AS top,
        FIRST(price, 1) AS second, MATCH_ROWTIME() AS at
      ONE ROW PER MATCH AFTER MATCH SKIP TO NEXT ROW
      PATTERN (U{2,3} (X | Y) Z*? E) WITHIN INTERVAL '20' SECOND
      DEFINE U AS PREV(U.price) IS NULL OR U.price > PREV(U.price),
        X AS X.price < 4, Y AS AVG(price) > 5,
        Z AS Z.price <> 7, E AS E.price >= FIRST(U.price) + 2`,
    pattern: [
      [
        v('U', '{2,3}', (c) => {
          const all = c.rows();
          return all.length < 2 || c.row.price > all[all.length - 2].price;
        }),
      ],
      [
        v('X', '', (c) => c.row.price < 4),
        v('Y', '', (c) => {
          const all = c.rows().map((r) => r.price);
          return sum(all)! / all.length > 5;
        }),
      ],
      [v('Z', '*?', (c) => c.row.price !== 7)],
      [v('E', '', (c) => c.row.price >= c.rows('U')[0].price + 2)],
    ],
    within: 20_000,
    skip: 'to_next_row',
    measures: (t) => {
      const all = of(t).map((r) => r.price);
      return {
        low: of(t, 'U')[0].price,
        high: last(of(t, 'U'))!.price,
        n: t.length,
        top: Math.max(...all),
        second: all[1] ?? null,
        at: last(of(t))!.ts,
      };
    },
  },
  {
    name: 'run',
    partitioned: false,
    columns: ['first_symbol', 'ms', 'm_low', 't_ts'],
    sql: `ORDER BY ts
      MEASURES S.symbol AS first_symbol, COUNT(M.price) AS ms, MIN(M.price) AS m_low, T.ts AS t_ts
      AFTER MATCH SKIP TO LAST M
      PATTERN (S M* T)
      DEFINE M AS M.price <= S.price, T AS T.price > S.price`,
    pattern: [
      [v('S', '')],
      [v('M', '*', (c) => c.row.price <= c.rows('S')[0].price)],
      [v('T', '', (c) => c.row.price > c.rows('S')[0].price)],
    ],
    skip: { to: 'last', name: 'M' },
    measures: (t) => {
      const ms = of(t, 'M').map((r) => r.price);
      return {
        first_symbol: of(t, 'S')[0].symbol,
        ms: ms.length,
        m_low: ms.length === 0 ? null : Math.min(...ms),
        t_ts: of(t, 'T')[0].ts,
      };
    },
  },
];

/** A seeded generator (a linear congruential one), so that a failure can be run again. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Ticks of three symbols, unique times, written out of order by at most 4 s (the bound is 5 s). */
function ticks(seed: number, n: number): { ordered: Tick[]; written: Tick[] } {
  const next = random(seed);
  const ordered: Tick[] = [];
  let ts = 1000;
  for (let i = 0; i < n; i++) {
    ts += 1 + Math.floor(next() * 2500);
    ordered.push({
      symbol: ['ab', 'cd', 'ef'][Math.floor(next() * 3)],
      price: 1 + Math.floor(next() * 10),
      ts,
    });
  }
  const written = [...ordered];
  for (let i = 1; i < written.length; i++)
    if (next() < 0.3 && written[i].ts - written[i - 1].ts < 4000)
      [written[i - 1], written[i]] = [written[i], written[i - 1]];
  return { ordered, written };
}

function expected(q: Query, ordered: readonly Tick[]): string[] {
  const partitions = new Map<string, Tick[]>();
  for (const t of ordered) {
    const key = q.partitioned ? t.symbol : '';
    let list = partitions.get(key);
    if (list === undefined) {
      list = [];
      partitions.set(key, list);
    }
    list.push(t);
  }
  const rows: string[] = [];
  for (const [key, list] of partitions)
    for (const taken of matchAll(list, q))
      rows.push(JSON.stringify({ ...(q.partitioned ? { symbol: key } : {}), ...q.measures(taken) }));
  return rows.sort();
}

async function viaSql(q: Query, written: readonly Tick[], batchSize: number): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-mr-'));
  try {
    writeFileSync(join(dir, 'ticks.jsonl'), `${written.map((t) => JSON.stringify(t)).join('\n')}\n`);
    const columns = [...(q.partitioned ? ['symbol'] : []), ...q.columns].map((c) => `${c} STRING`);
    const script = `CREATE TABLE ticks (symbol STRING, price BIGINT, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
WITH ('connector' = 'file', 'path' = './ticks.jsonl', 'format' = 'json');
CREATE TABLE out_t (${columns.join(', ')}) WITH ('connector' = 'file', 'path' = './out/out.jsonl');
INSERT INTO out_t SELECT * FROM ticks MATCH_RECOGNIZE (${q.sql});`;
    const plan = resolveSql(script, join(dir, 'query.sql'));
    await runPlan({ ...plan, settings: { ...plan.settings, batchSize } });
    return (outputs(dir)['out.jsonl'] ?? []).sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const q of QUERIES) {
  test(`MATCH_RECOGNIZE ${q.name} equals a brute-force matcher at several batch sizes`, async () => {
    for (const seed of [1, 2]) {
      const { ordered, written } = ticks(seed * 7919 + q.name.length, 400);
      const want = expected(q, ordered);
      assert.ok(want.length >= 5, `seed ${seed}: the input should give several matches, got ${want.length}`);
      for (const batchSize of [1, 7, 1000]) {
        const got = await viaSql(q, written, batchSize);
        assert.deepEqual(got, want, `${q.name}, seed ${seed}, batches of ${batchSize}`);
      }
    }
  });
}
