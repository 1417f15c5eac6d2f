/**
 * The pattern step against an independent oracle: a brute-force backtracking matcher written
 * plainly here, enumerating per key, in event-time order, the matches of each start record in
 * the order of preference (greedy quantifiers try one more record first, reluctant ones one
 * fewer; with `any` contiguity an earlier record before a later one), under the same skip
 * strategy. Absent stages are checked on the records between the stages around them, as Flink
 * CEP's `notNext` and `notFollowedBy` are. Random patterns over random inputs; the same inputs also
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
/** The quantifiers of stages in an alternation: each takes at least one record. */
const REQUIRED = ['', '', '+', '{2}', '{1,3}', '{2,}', '+?', '{1,3}?'];

interface StageSpec {
  name: string;
  cond: Condition;
  min: number;
  max: number;
  greedy: boolean;
  contiguity: 'strict' | 'relaxed' | 'any';
  absent: boolean;
  /** An alternative to the stage before it: `(S1 | S2)`. */
  alternative: boolean;
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
  const inTime = (x: number) => recs[x].t - startTime < within;
  // Whether recs[x] meets an absent stage crossed since the last record taken (at first - 1):
  // a strict one (notNext) only when it is the very next record.
  const forbidden = (x: number, first: number, pending: StageSpec[], taken: [number, Rec][]) =>
    pending.some((p) => (p.contiguity !== 'strict' || x === first) && p.cond.js(recs[x], taken));
  // Take the next record of stage k (which holds c records) at or after index i.
  function* element(
    k: number,
    c: number,
    i: number,
    taken: [number, Rec][],
    pending: StageSpec[],
  ): Generator<[number, Rec][]> {
    for (let x = i; x < recs.length && inTime(x); x++) {
      if (forbidden(x, i, pending, taken)) return;
      if (stages[k].cond.js(recs[x], taken)) {
        yield* after(k, c + 1, x + 1, [...taken, [k, recs[x]]]);
        // A match starts at its first record; only `any` tries a later record after this one.
        if (taken.length === 0 || stages[k].contiguity !== 'any') return;
      } else if (taken.length === 0 || stages[k].contiguity === 'strict') {
        // Strict contiguity allows no record in between.
        return;
      }
    }
  }
  // The stage after the alternation stage k is part of (k + 1 when it has none).
  const following = (k: number) => {
    let j = k + 1;
    while (j < n && stages[j].alternative) j++;
    return j;
  };
  function* after(k: number, c: number, i: number, taken: [number, Rec][]): Generator<[number, Rec][]> {
    const st = stages[k];
    const more = c < st.max ? () => element(k, c, i, taken, []) : null;
    const done = c >= st.min ? () => enter(following(k), i, taken, []) : null;
    for (const option of st.greedy ? [more, done] : [done, more]) if (option) yield* option();
  }
  function* enter(
    k: number,
    i: number,
    taken: [number, Rec][],
    pending: StageSpec[],
  ): Generator<[number, Rec][]> {
    if (k === n) {
      if (pending.some((p) => p.contiguity !== 'strict')) {
        // notFollowedBy at the end: no forbidden record until `within` has passed.
        for (let x = i; x < recs.length && inTime(x); x++) if (forbidden(x, i, pending, taken)) return;
        yield taken;
      } else if (pending.length === 0) {
        yield taken;
      } else if (i < recs.length && inTime(i) && !forbidden(i, i, pending, taken)) {
        // notNext at the end: the next record comes in time and is not a forbidden one.
        yield taken;
      }
      return;
    }
    const st = stages[k];
    if (st.absent) {
      yield* enter(k + 1, i, taken, [...pending, st]);
      return;
    }
    if (following(k) > k + 1) {
      // An alternation: each stage of it in turn (each takes at least one record).
      for (let a = k; a < following(k); a++) yield* element(a, 0, i, taken, pending);
      return;
    }
    if (st.min > 0) {
      yield* element(k, 0, i, taken, pending);
      return;
    }
    const take = () => element(k, 0, i, taken, pending);
    const pass = () => enter(k + 1, i, taken, pending);
    for (const option of st.greedy ? [take, pass] : [pass, take]) yield* option();
  }
  yield* enter(0, s, [], []);
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

const CONTIGUITIES = ['strict', 'strict', 'relaxed', 'relaxed', 'any'] as const;

function randomCase(seed: number) {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const count = 1 + Math.floor(rnd() * 3);
  let stages: StageSpec[] = [];
  let quantifiers: string[] = [];
  const addAbsent = () => {
    for (let n = 0; n < 2 && rnd() < 0.3; n++) {
      stages.push(absentStage(stages.length, pick(CONDITIONS), rnd() < 0.5));
      quantifiers.push('');
    }
  };
  do {
    stages = [];
    quantifiers = [];
    for (let k = 0; k < count; k++) {
      // Absent stages (notNext / notFollowedBy, one or two) before this one, after a required stage.
      if (k > 0 && stages[stages.length - 1].min > 0) addAbsent();
      const q = pick(QUANTIFIERS);
      quantifiers.push(q);
      const contiguity = pick(CONTIGUITIES);
      stages.push({
        name: `S${stages.length}`,
        cond: pick(CONDITIONS),
        ...quantifier(q),
        contiguity,
        absent: false,
        alternative: false,
      });
      // Alternatives to it (S1 | S2 | …): all of them required.
      for (let n = 0; n < 2 && stages[stages.length - 1].min > 0 && rnd() < 0.25; n++) {
        const alt = pick(REQUIRED);
        quantifiers.push(alt);
        stages.push({
          name: `S${stages.length}`,
          cond: pick(CONDITIONS),
          ...quantifier(alt),
          contiguity: pick(CONTIGUITIES),
          absent: false,
          alternative: true,
        });
      }
    }
    // And at the end.
    if (stages[stages.length - 1].min > 0) addAbsent();
  } while (stages.every((s) => s.absent || s.min === 0));
  const positive = stages.filter((s) => !s.absent);
  const skip = pick([
    'past_last_row',
    'past_last_row',
    'to_next_row',
    'to_first',
    'to_last',
    'no_skip',
  ] as const);
  const skipTo = pick(positive).name;
  const skipStage = stages.findIndex((s) => s.name === skipTo);
  // no_skip and `any` enumerate many paths: keep matches short so the oracle stays small; a
  // notFollowedBy at the end needs a within.
  const bounded = skip === 'no_skip' || stages.some((s) => s.contiguity === 'any') || absentCanEnd(stages);
  const within =
    skip === 'no_skip'
      ? 3 + Math.floor(rnd() * 4)
      : bounded
        ? pick([5, 12])
        : pick([Number.POSITIVE_INFINITY, 5, 12]);
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
      contiguity: s.contiguity,
      ...(s.absent ? { absent: true } : {}),
      ...(s.alternative ? { alternative: true } : {}),
    })),
    measures: stageMeasures(positive.map((s) => s.name)),
    skip,
    ...(skip === 'to_first' || skip === 'to_last' ? { skip_to: skipTo } : {}),
    ...(within !== Number.POSITIVE_INFINITY ? { within: `${within}ms` } : {}),
  };
  return { stages, positive, skip, skipStage, within, bound, inputs, cfg };
}

/** Whether a notFollowedBy can end the pattern: only optional stages follow it. */
function absentCanEnd(stages: StageSpec[]): boolean {
  for (let k = stages.length - 1; k >= 0; k--) {
    if (stages[k].absent && stages[k].contiguity === 'relaxed') return true;
    if (!stages[k].absent && stages[k].min > 0) return false;
  }
  return false;
}

function absentStage(index: number, cond: Condition, strict: boolean): StageSpec {
  const contiguity = strict ? 'strict' : 'relaxed';
  return {
    name: `S${index}`,
    cond,
    min: 1,
    max: 1,
    greedy: true,
    contiguity,
    absent: true,
    alternative: false,
  };
}

describe('pattern step against a brute-force oracle', () => {
  // PATTERN_ORACLE_SEEDS=5000 for a longer search.
  const seeds = Number(process.env.PATTERN_ORACLE_SEEDS ?? 300);
  it(`gives the oracle’s matches on ${seeds} random patterns and inputs`, () => {
    for (let seed = 1; seed <= seeds; seed++) {
      const c = randomCase(seed);
      const run = runPattern(c.cfg, c.inputs, { bound: c.bound });
      const names = c.positive.map((s) => s.name);
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
