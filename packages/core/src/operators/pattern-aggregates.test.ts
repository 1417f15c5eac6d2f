/**
 * Aggregates in conditions (kept as running accumulators, `pattern-accumulators.ts`) against a
 * plain loop: `A+ B` (or `A+? B`), strict contiguity, skipping past the last row, with `avg`,
 * `sum`, `min`, `max`, `count` of A's records and `sum` over the whole match in the conditions,
 * over runs of A records of 1 to 1,000, with and without running semantics. The same inputs run
 * in batches of 1, 7 and 1000 and through a checkpoint (with the accumulators in it, and without
 * them, as an older version wrote it: they are rebuilt from the match's records).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../testing/random.ts';
import { type Input, type PatternConfig, runPattern } from './pattern-test-harness.ts';

type Rec = { key: string; t: number; id: string; price: number; qty: number | null };

const A_WHERE =
  'price >= 10 AND (count(A) = 0 OR price <= max(A.price) + 50) AND (count(A) < 3 OR price >= min(A.price) - 45) AND (sum(price) IS NULL OR sum(price) < 60000)';
const B_WHERE = 'price > avg(A.price) + 60 AND (count(A.qty) = 0 OR sum(A.qty) >= 4 * count(A.qty))';

/** Runs of A-like records (prices 40–60, sometimes outliers) of 1 to 1,000, each ended by a low or a high price. */
function inputs(seed: number): Rec[] {
  const rnd = seededRandom(seed);
  const out: Rec[] = [];
  let clock = 0;
  let i = 0;
  const push = (key: string, price: number) => {
    clock += 1 + Math.floor(rnd() * 2);
    const qty = rnd() < 0.2 ? null : Math.floor(rnd() * 9);
    out.push({ key, t: clock + Math.floor(rnd() * 4), id: `r${i++}`, price, qty });
  };
  for (let segment = 0; segment < 14; segment++) {
    const key = rnd() < 0.5 ? 'x' : 'y';
    const length = [1, 2, 10, 100, 1000][Math.floor(rnd() * 5)];
    for (let n = 0; n < length; n++) {
      const price = rnd() < 0.9 ? 40 + Math.floor(rnd() * 21) : Math.floor(rnd() * 150);
      push(rnd() < 0.1 ? (key === 'x' ? 'y' : 'x') : key, price + (rnd() < 0.3 ? 0.25 : 0));
    }
    push(key, rnd() < 0.5 ? 1 : 130 + Math.floor(rnd() * 60));
  }
  return out;
}

/** Running aggregates of A's records (and of the whole match: the same records before B). */
class Acc {
  n = 0;
  sum = 0;
  min: number | null = null;
  max: number | null = null;
  qtyN = 0;
  qtySum = 0;
  add(r: Rec): Acc {
    const a = new Acc();
    a.n = this.n + 1;
    a.sum = this.sum + r.price;
    a.min = this.min === null || r.price < this.min ? r.price : this.min;
    a.max = this.max === null || r.price > this.max ? r.price : this.max;
    a.qtyN = this.qtyN + (r.qty === null ? 0 : 1);
    a.qtySum = this.qtySum + (r.qty ?? 0);
    return a;
  }
}

/** A's condition for `r` after the A records summed in `before` (running: `r` counts as one of them). */
function aHolds(r: Rec, before: Acc, running: boolean): boolean {
  const a = running ? before.add(r) : before;
  if (r.price < 10) return false;
  if (a.n > 0 && a.max !== null && !(r.price <= a.max + 50)) return false;
  if (a.n >= 3 && a.min !== null && !(r.price >= a.min - 45)) return false;
  // sum(price) over no record is NULL.
  return a.n === 0 || a.sum < 60000;
}

/** B's condition for `r` after the A records `as` (B's own references read no B). */
function bHolds(r: Rec, as: Acc): boolean {
  if (as.n === 0 || !(r.price > as.sum / as.n + 60)) return false;
  return as.qtyN === 0 || as.qtySum >= 4 * as.qtyN;
}

/** The matches per key, as `first A..last A>B avg`, found by trying each start in order. */
function oracle(records: readonly Rec[], greedy: boolean, running: boolean): Map<string, string[]> {
  const byKey = new Map<string, Rec[]>();
  records.forEach((r) => {
    const list = byKey.get(r.key) ?? [];
    list.push(r);
    byKey.set(r.key, list);
  });
  const found = new Map<string, string[]>();
  for (const [key, unsorted] of byKey) {
    // Event-time order, ties by arrival (a stable sort keeps arrival order).
    const rs = [...unsorted].sort((p, q) => p.t - q.t);
    const list: string[] = [];
    let i = 0;
    while (i < rs.length) {
      // A takes rs[i..i+L-1]; B may follow each L ≥ 1 at rs[i+L].
      let acc = new Acc();
      const ends: { length: number; acc: Acc }[] = [];
      let j = i;
      while (j < rs.length && aHolds(rs[j], acc, running)) {
        acc = acc.add(rs[j]);
        j++;
        if (j < rs.length && bHolds(rs[j], acc)) ends.push({ length: j - i, acc });
      }
      if (ends.length === 0) {
        i++;
        continue;
      }
      const end = greedy ? ends[ends.length - 1] : ends[0];
      const last = i + end.length;
      list.push(`${rs[i].id}..${rs[last - 1].id}>${rs[last].id} ${end.acc.sum / end.acc.n}`);
      i = last + 1;
    }
    if (list.length > 0) found.set(key, list);
  }
  return found;
}

function config(greedy: boolean, running: boolean): Partial<PatternConfig> & Pick<PatternConfig, 'stages'> {
  return {
    stages: [
      { name: 'A', where: A_WHERE, quantifier: greedy ? '+' : '+?' },
      { name: 'B', where: B_WHERE },
    ],
    measures: { a_first: 'first(A.id)', a_last: 'last(A.id)', b: 'B.id', a_avg: 'avg(A.price)' },
    running,
  };
}

function described(out: ReturnType<typeof runPattern>['out']): Map<string, string[]> {
  const got = new Map<string, string[]>();
  for (const o of out) {
    const list = got.get(o.key) ?? [];
    list.push(`${o.row.a_first}..${o.row.a_last}>${o.row.b} ${o.row.a_avg}`);
    got.set(o.key, list);
  }
  return got;
}

/** `value` without any `acc` property: a checkpoint as written before the accumulators. */
function withoutAccumulators(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutAccumulators);
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const copy: { [k: string]: unknown } = {};
  for (const [k, v] of Object.entries(value)) if (k !== 'acc') copy[k] = withoutAccumulators(v);
  return copy;
}

const asInput = (r: Rec): Input => ({ ...r });

describe('aggregates in pattern conditions', () => {
  for (const running of [false, true]) {
    for (const greedy of [true, false]) {
      it(`match a plain loop over long runs (${greedy ? 'A+' : 'A+?'} B, running ${running}) in batches of 1, 7 and 1000 and across a restore`, () => {
        for (const seed of [1, 2]) {
          const recs = inputs(seed);
          const want = oracle(recs, greedy, running);
          const matched = [...want.values()].reduce((n, l) => n + l.length, 0);
          assert.ok(matched > 0, `seed ${seed}: the input gives matches`);
          // Some match spans a long run of A (the quadratic case before the accumulators).
          const longest = Math.max(
            ...[...want.values()].flat().map((m) => {
              const [from, to] = m.split('>')[0].split('..');
              return Number(to.slice(1)) - Number(from.slice(1));
            }),
          );
          if (greedy) assert.ok(longest >= 100, `seed ${seed}: longest match spans ${longest} records`);
          const cfg = config(greedy, running);
          const ins = recs.map(asInput);
          const reference = runPattern(cfg, ins, { bound: 5, batchSize: 1000 });
          assert.deepEqual(described(reference.out), want, `seed ${seed}`);
          assert.deepEqual(reference.dead, []);
          for (const batchSize of [1, 7]) {
            assert.deepEqual(
              runPattern(cfg, ins, { bound: 5, batchSize }),
              reference,
              `seed ${seed}, batch ${batchSize}`,
            );
          }
          for (const restartAt of [Math.floor(ins.length / 2)]) {
            for (const alter of [undefined, withoutAccumulators]) {
              assert.deepEqual(
                runPattern(cfg, ins, {
                  bound: 5,
                  batchSize: 7,
                  restartAt,
                  keyed: true,
                  ...(alter ? { alter } : {}),
                }),
                reference,
                `seed ${seed}, restart at ${restartAt}${alter ? ', accumulators rebuilt' : ''}`,
              );
            }
          }
        }
      });
    }
  }

  it('keep a failure where it was: a value that cannot be summed makes each record testing it a dead letter', () => {
    // A's condition reads no qty, so the string is taken; B's sum(A.qty) then fails on every test.
    const ins: Input[] = [];
    const qtys: (number | string)[] = [1, 2, 'two', 3, 4];
    qtys.forEach((qty, i) => {
      ins.push({ key: 'k', t: i, id: `a${i}`, price: 50, qty });
    });
    ins.push({ key: 'k', t: 10, id: 'b', price: 200, qty: 0 });
    const cfg = {
      stages: [
        { name: 'A', where: 'price < 100', quantifier: '+' },
        { name: 'B', where: 'sum(A.qty) > 0 AND price > 100' },
      ],
      measures: { a_first: 'first(A.id)', b: 'B.id' },
    };
    const reference = runPattern(cfg, ins, { batchSize: 1000 });
    // Every record after 'two' is tested for B by a thread holding it (the one starting at a0).
    assert.deepEqual(reference.dead, ['a3:EXPR_EVAL', 'a4:EXPR_EVAL', 'b:EXPR_EVAL']);
    // Only threads that began after 'two' can match: a3 then B at b.
    assert.deepEqual(
      reference.out.map((o) => `${o.row.a_first}>${o.row.b}`),
      ['a3>b'],
    );
    for (const batchSize of [1, 7])
      assert.deepEqual(runPattern(cfg, ins, { batchSize }), reference, `batch ${batchSize}`);
    for (const alter of [undefined, withoutAccumulators])
      assert.deepEqual(
        runPattern(cfg, ins, { batchSize: 1, restartAt: 3, keyed: true, ...(alter ? { alter } : {}) }),
        reference,
      );
  });
});
