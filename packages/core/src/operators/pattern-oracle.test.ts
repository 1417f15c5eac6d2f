/**
 * The pattern step against an independent oracle: a brute-force backtracking matcher written
 * plainly here, enumerating per key, in event-time order, the matches of each start record in
 * the order of preference (greedy quantifiers try one more record first, reluctant ones one
 * fewer), under the same skip strategy. Random patterns over random inputs; the same inputs also
 * run in batches of 1, 7 and 1024 and through a checkpoint taken mid-pattern, which must all give
 * identical output, late records and dead letters.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../testing/random.ts';
import {
  describeMatch,
  type Input,
  type PatternConfig,
  runPattern,
  stageMeasures,
  watermarksOf,
} from './pattern-test-harness.ts';

type Rec = { id: string; t: number; v: string; n: number };
/** A condition as SQL for the step and as a function for the oracle (`taken`: records matched before, by stage). */
type Condition = { sql: string; js: (r: Rec, taken: [number, Rec][]) => boolean };

const lastOf = (taken: [number, Rec][], stage: number): Rec | null => {
  for (let i = taken.length - 1; i >= 0; i--) if (taken[i][0] === stage) return taken[i][1];
  return null;
};

const CONDITIONS: Condition[] = [
  { sql: "v = 'a'", js: (r) => r.v === 'a' },
  { sql: "v = 'b'", js: (r) => r.v === 'b' },
  { sql: "v = 'c'", js: (r) => r.v === 'c' },
  { sql: "v IN ('a', 'b')", js: (r) => r.v === 'a' || r.v === 'b' },
  { sql: "v <> 'c'", js: (r) => r.v !== 'c' },
  { sql: 'n > 4', js: (r) => r.n > 4 },
  // Refers to the last record of the first stage (NULL, so false, before it has one).
  {
    sql: 'n > S0.n',
    js: (r, taken) => {
      const a = lastOf(taken, 0);
      return a !== null && r.n > a.n;
    },
  },
  // Fails (division by zero) when n = 0: the record is a dead letter and does not match.
  { sql: '10 / n > 2', js: (r) => r.n !== 0 && 10 / r.n > 2 },
];

const QUANTIFIERS = ['', '', '+', '*', '?', '{2}', '{1,3}', '{2,}', '+?', '*?', '??', '{1,3}?'];

interface StageSpec {
  name: string;
  cond: Condition;
  min: number;
  max: number;
  greedy: boolean;
  strict: boolean;
}

function quantifier(q: string): { min: number; max: number; greedy: boolean } {
  const greedy = !(q.length > 1 && q.endsWith('?'));
  const body = greedy ? q : q.slice(0, -1);
  if (body === '') return { min: 1, max: 1, greedy };
  if (body === '+') return { min: 1, max: Number.POSITIVE_INFINITY, greedy };
  if (body === '*') return { min: 0, max: Number.POSITIVE_INFINITY, greedy };
  if (body === '?') return { min: 0, max: 1, greedy };
  const [lo, hi] = body.slice(1, -1).split(',');
  return {
    min: Number(lo),
    max: hi === undefined ? Number(lo) : hi === '' ? Number.POSITIVE_INFINITY : Number(hi),
    greedy,
  };
}

/** Every match starting at `recs[s]`, most preferred first. */
function* matchesFrom(
  recs: Rec[],
  s: number,
  stages: StageSpec[],
  within: number,
): Generator<[number, Rec][]> {
  const startTime = recs[s].t;
  const n = stages.length;
  // Take the next record of stage k (which holds c records) at or after index i.
  function* element(k: number, c: number, i: number, taken: [number, Rec][]): Generator<[number, Rec][]> {
    for (let x = i; x < recs.length; x++) {
      if (recs[x].t - startTime >= within) return;
      if (stages[k].cond.js(recs[x], taken)) {
        yield* after(k, c + 1, x + 1, [...taken, [k, recs[x]]]);
        return;
      }
      // A match starts at its first record; strict contiguity allows no record in between.
      if (taken.length === 0 || stages[k].strict) return;
    }
  }
  function* after(k: number, c: number, i: number, taken: [number, Rec][]): Generator<[number, Rec][]> {
    const st = stages[k];
    const more = c < st.max ? () => element(k, c, i, taken) : null;
    const done = c >= st.min ? () => enter(k + 1, i, taken) : null;
    for (const option of st.greedy ? [more, done] : [done, more]) if (option) yield* option();
  }
  function* enter(k: number, i: number, taken: [number, Rec][]): Generator<[number, Rec][]> {
    if (k === n) {
      yield taken;
      return;
    }
    const st = stages[k];
    if (st.min > 0) {
      yield* element(k, 0, i, taken);
      return;
    }
    const take = () => element(k, 0, i, taken);
    const pass = () => enter(k + 1, i, taken);
    for (const option of st.greedy ? [take, pass] : [pass, take]) yield* option();
  }
  yield* enter(0, s, []);
}

function describePath(path: [number, Rec][], stages: StageSpec[]): string {
  const parts: string[] = [];
  stages.forEach((st, k) => {
    const recs = path.filter(([s]) => s === k).map(([, r]) => r.id);
    if (recs.length === 0) return;
    parts.push(
      recs.length === 1 ? `${st.name}:${recs[0]}` : `${st.name}:${recs[0]}..${recs.at(-1)}(${recs.length})`,
    );
  });
  return parts.join(' ');
}

/** The oracle: matches per key, in order (sorted for no_skip, whose emission order differs by design). */
function oracle(
  inputs: Input[],
  bound: number,
  stages: StageSpec[],
  within: number,
  skip: PatternConfig['skip'],
  skipStage: number,
): Map<string, string[]> {
  const wms = watermarksOf(inputs, bound);
  const byKey = new Map<string, { rec: Rec; arrival: number }[]>();
  inputs.forEach((r, i) => {
    if (r.t <= wms[i]) return; // late
    const list = byKey.get(r.key) ?? [];
    list.push({ rec: { id: String(r.id), t: r.t, v: String(r.v), n: Number(r.n) }, arrival: i });
    byKey.set(r.key, list);
  });
  const result = new Map<string, string[]>();
  for (const [key, list] of byKey) {
    list.sort((p, q) => p.rec.t - q.rec.t || p.arrival - q.arrival);
    const recs = list.map((e) => e.rec);
    const found: string[] = [];
    let resume = 0;
    for (let s = 0; s < recs.length; s++) {
      if (skip === 'no_skip') {
        for (const path of matchesFrom(recs, s, stages, within)) found.push(describePath(path, stages));
        continue;
      }
      if (s < resume) continue;
      const best = matchesFrom(recs, s, stages, within).next();
      if (best.done) continue;
      const path = best.value;
      found.push(describePath(path, stages));
      const index = (r: Rec) => recs.indexOf(r);
      const ofStage = path.filter(([k]) => k === skipStage).map(([, r]) => index(r));
      let next: number;
      if (skip === 'past_last_row') next = index(path.at(-1)![1]) + 1;
      else if (skip === 'to_first') next = ofStage.length > 0 ? ofStage[0] : s + 1;
      else if (skip === 'to_last') next = ofStage.length > 0 ? ofStage.at(-1)! : s + 1;
      else next = s + 1;
      resume = Math.max(next, s + 1);
    }
    if (skip === 'no_skip') found.sort();
    if (found.length > 0) result.set(key, found);
  }
  return result;
}

function randomCase(seed: number) {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const count = 1 + Math.floor(rnd() * 3);
  let stages: StageSpec[] = [];
  let quantifiers: string[] = [];
  do {
    quantifiers = [];
    stages = Array.from({ length: count }, (_, k) => {
      const q = pick(QUANTIFIERS);
      quantifiers.push(q);
      return { name: `S${k}`, cond: pick(CONDITIONS), ...quantifier(q), strict: rnd() < 0.5 };
    });
  } while (stages.every((s) => s.min === 0));
  const skip = pick([
    'past_last_row',
    'past_last_row',
    'to_next_row',
    'to_first',
    'to_last',
    'no_skip',
  ] as const);
  const skipStage = Math.floor(rnd() * count);
  // no_skip enumerates every path: keep matches short so the oracle stays small.
  const within = skip === 'no_skip' ? 3 + Math.floor(rnd() * 4) : pick([Number.POSITIVE_INFINITY, 5, 12]);
  const bound = pick([0, 2, 4]);
  const size = 10 + Math.floor(rnd() * 40);
  const inputs: Input[] = [];
  let clock = 0;
  for (let i = 0; i < size; i++) {
    clock += Math.floor(rnd() * 3);
    const jitter = Math.floor(rnd() * (bound + 3));
    inputs.push({
      key: pick(['x', 'y']),
      t: clock + jitter,
      id: `r${i}`,
      v: pick(['a', 'a', 'b', 'c']),
      n: Math.floor(rnd() * 8),
    });
  }
  const cfg: Partial<PatternConfig> & Pick<PatternConfig, 'stages'> = {
    stages: stages.map((s, k) => ({
      name: s.name,
      where: s.cond.sql,
      ...(quantifiers[k] ? { quantifier: quantifiers[k] } : {}),
      contiguity: s.strict ? 'strict' : 'relaxed',
    })),
    measures: stageMeasures(stages.map((s) => s.name)),
    skip,
    ...(skip === 'to_first' || skip === 'to_last' ? { skip_to: `S${skipStage}` } : {}),
    ...(within !== Number.POSITIVE_INFINITY ? { within: `${within}ms` } : {}),
  };
  return { stages, skip, skipStage, within, bound, inputs, cfg };
}

describe('pattern step against a brute-force oracle', () => {
  // PATTERN_ORACLE_SEEDS=5000 for a longer search.
  const seeds = Number(process.env.PATTERN_ORACLE_SEEDS ?? 300);
  it(`gives the oracle’s matches on ${seeds} random patterns and inputs`, () => {
    for (let seed = 1; seed <= seeds; seed++) {
      const c = randomCase(seed);
      const run = runPattern(c.cfg, c.inputs, { bound: c.bound });
      const names = c.stages.map((s) => s.name);
      const got = new Map<string, string[]>();
      for (const o of run.out) {
        const list = got.get(o.key) ?? [];
        list.push(describeMatch(o.row, names));
        got.set(o.key, list);
      }
      if (c.skip === 'no_skip') for (const list of got.values()) list.sort();
      const want = oracle(c.inputs, c.bound, c.stages, c.within, c.skip, c.skipStage);
      assert.deepEqual(got, want, `seed ${seed}: ${JSON.stringify(c.cfg)}`);
    }
  });

  it('gives identical output, late records and dead letters in batches of 1, 7 and 1024 and across a restore', () => {
    for (let seed = 1000; seed < 1150; seed++) {
      const c = randomCase(seed);
      const cfg = { ...c.cfg, timeouts: 'emit' as const };
      const reference = runPattern(cfg, c.inputs, { bound: c.bound, batchSize: 1024 });
      for (const batchSize of [1, 7]) {
        assert.deepEqual(
          runPattern(cfg, c.inputs, { bound: c.bound, batchSize }),
          reference,
          `seed ${seed}, batch ${batchSize}`,
        );
      }
      for (const restartAt of [1, Math.floor(c.inputs.length / 2), c.inputs.length - 1]) {
        assert.deepEqual(
          runPattern(cfg, c.inputs, { bound: c.bound, batchSize: 7, restartAt }),
          reference,
          `seed ${seed}, restart at ${restartAt}`,
        );
      }
    }
  });
});
