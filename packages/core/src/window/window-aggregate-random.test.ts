import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Operator } from '../operator.ts';
import type { Row } from '../record.ts';
import { DELETE, UPDATE_BEFORE } from '../record.ts';
import { seededRandom as random } from '../testing/random.ts';
import {
  agg,
  batchOf,
  CollectingOutput,
  countStar,
  foldChangelog,
  open,
  roundTrip,
  windowId,
} from './test-support.ts';
import { createWindowAggregate } from './window-aggregate.ts';
import type { WindowSpec } from './window-spec.ts';

type Step = { kind: 'batch'; rows: { k: string; v: number; t: number }[] } | { kind: 'watermark'; w: number };

/** Records arriving out of order (up to `disorder` ms, a few far later), with watermarks between batches. */
function scenario(seed: number, steps: number, disorder: number, keyedInput = false): Step[] {
  const rnd = random(seed);
  const out: Step[] = [];
  let clock = 1000;
  let maxSeen = 0;
  for (let s = 0; s < steps; s++) {
    const rows = [];
    const n = 1 + Math.floor(rnd() * 8);
    for (let i = 0; i < n; i++) {
      clock += Math.floor(rnd() * 4);
      const late = rnd() < 0.05 ? 60 : 0;
      const t = clock - Math.floor(rnd() * disorder) - late;
      maxSeen = Math.max(maxSeen, t);
      rows.push({ k: `k${Math.floor(rnd() * (keyedInput ? 3 : 5))}`, v: Math.floor(rnd() * 100), t });
    }
    out.push({ kind: 'batch', rows });
    if (rnd() < 0.6) out.push({ kind: 'watermark', w: maxSeen - Math.floor(rnd() * disorder) });
  }
  out.push({ kind: 'watermark', w: Number.POSITIVE_INFINITY });
  return out;
}

function operator(window: WindowSpec, allowedLateness: number): Operator {
  return createWindowAggregate({
    stepId: 'w',
    window,
    time: 'event',
    keyFields: ['k'],
    fields: [countStar('n'), agg('total', 'sum', 'v'), agg('p90', 'percentile', 'v', [0.9])],
    allowedLateness,
  });
}

function run(op: Operator, steps: readonly Step[], out: CollectingOutput, keyed = false): void {
  for (const step of steps) {
    if (step.kind === 'watermark') op.onWatermark!(step.w, out);
    else {
      const keys = keyed ? step.rows.map((r) => r.k) : undefined;
      op.processBatch(
        batchOf(
          step.rows.map(({ k, v }) => ({ k, v })),
          step.rows.map((r) => r.t),
          keys,
        ),
        out,
      );
    }
  }
}

/** The windows containing t, found by scanning candidate starts. */
function windowsContaining(spec: WindowSpec, t: number): [number, number][] {
  const found: [number, number][] = [];
  if (spec.type === 'tumbling') {
    const offset = spec.offset ?? 0;
    for (
      let s = Math.floor((t - offset) / spec.size) * spec.size + offset - 2 * spec.size;
      s <= t;
      s += spec.size
    ) {
      if (t < s + spec.size) found.push([s, s + spec.size]);
    }
  } else if (spec.type === 'hopping') {
    for (let s = Math.floor((t - spec.size) / spec.slide) * spec.slide; s <= t; s += spec.slide) {
      if (t < s + spec.size) found.push([s, s + spec.size]);
    }
  } else if (spec.type === 'cumulative') {
    const p = Math.floor(t / spec.size) * spec.size;
    for (let e = p + spec.step; e <= p + spec.size; e += spec.step) if (t < e) found.push([p, e]);
  }
  return found;
}

/**
 * A naive model of aligned windows: all values kept, results folded when emitted; a first result
 * is an insert (+I), a late change an update-before (-U) of the last result and an update-after (+U).
 */
function reference(spec: WindowSpec, lateness: number, steps: readonly Step[]) {
  const windows = new Map<number, { start: number; fired: boolean; groups: Map<string, number[]> }>();
  const emitted: Row[] = [];
  const kinds: string[] = [];
  const last = new Map<string, Row>();
  const emit = (end: number, key: string) => {
    const r = result(end, key);
    const before = last.get(`${end}/${key}`);
    if (before !== undefined) {
      kinds.push('-U', '+U');
      emitted.push(before, r);
    } else {
      kinds.push('+I');
      emitted.push(r);
    }
    last.set(`${end}/${key}`, r);
  };
  const late: number[] = [];
  let w = Number.NEGATIVE_INFINITY;
  const result = (end: number, key: string) => {
    const win = windows.get(end)!;
    const values = win.groups.get(key)!;
    return {
      k: key,
      window_start: win.start,
      window_end: end,
      n: values.length,
      total: values.reduce((a, b) => a + b),
    };
  };
  for (const step of steps) {
    if (step.kind === 'batch') {
      for (const { k, v, t } of step.rows) {
        // Each record that changes fired windows re-fires them at once, in end order.
        const updated: number[] = [];
        const live = windowsContaining(spec, t).filter(([, end]) => end - 1 + lateness > w);
        if (live.length === 0) late.push(t);
        for (const [start, end] of live) {
          if (!windows.has(end)) windows.set(end, { start, fired: end - 1 <= w, groups: new Map() });
          const win = windows.get(end)!;
          if (!win.groups.has(k)) win.groups.set(k, []);
          win.groups.get(k)!.push(v);
          if (win.fired) updated.push(end);
        }
        updated.sort((a, b) => a - b);
        for (const end of updated) emit(end, k);
      }
    } else if (step.w > w) {
      w = step.w;
      for (const end of [...windows.keys()].sort((a, b) => a - b)) {
        const win = windows.get(end)!;
        if (end - 1 <= w && !win.fired) {
          win.fired = true;
          for (const key of win.groups.keys()) emit(end, key);
        }
        if (end - 1 + lateness <= w) windows.delete(end);
      }
    }
  }
  return { emitted, kinds, late };
}

const aligned: WindowSpec[] = [
  { type: 'tumbling', size: 10, offset: 3 },
  { type: 'hopping', size: 10, slide: 4 },
  { type: 'hopping', size: 12, slide: 3 },
  { type: 'cumulative', size: 30, step: 10 },
];

describe('window aggregate: against a naive model', () => {
  for (const spec of aligned) {
    for (const lateness of [0, 7, 40]) {
      it(`${JSON.stringify(spec)}, allowed lateness ${lateness}`, () => {
        for (let seed = 1; seed <= 5; seed++) {
          const steps = scenario(seed * 31 + lateness, 150, 12);
          const out = new CollectingOutput();
          const op = operator(spec, lateness);
          open(op);
          run(op, steps, out);
          const expected = reference(spec, lateness, steps);
          assert.deepEqual(
            out.lateRecords.map((l) => l.time),
            expected.late,
          );
          assert.deepEqual(
            out.emitted.map((e) => e.time),
            expected.emitted.map((r) => (r.window_end as number) - 1),
          );
          assert.deepEqual(
            out.changes().map(([kind, { p90: _, ...r }]) => [kind, r]),
            expected.emitted.map((r, i) => [expected.kinds[i], r]),
          );
        }
      });
    }
  }

  it('sessions without late records: each session of the whole input fires exactly once, in end order', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const gap = 5 + seed;
      const rnd = random(seed);
      const out = new CollectingOutput();
      const op = operator({ type: 'session', gap }, 0);
      open(op);
      const all: { k: string; v: number; t: number }[] = [];
      let maxSeen = 0;
      let watermark = Number.NEGATIVE_INFINITY;
      let clock = 0;
      let lastEnd = Number.NEGATIVE_INFINITY;
      for (let s = 0; s < 200; s++) {
        const rows = [];
        for (let i = 0; i < 5; i++) {
          clock += Math.floor(rnd() * 6);
          const t = Math.max(watermark + 1, clock - Math.floor(rnd() * 20));
          maxSeen = Math.max(maxSeen, t);
          rows.push({ k: `k${Math.floor(rnd() * 4)}`, v: 1 + Math.floor(rnd() * 9), t });
        }
        all.push(...rows);
        run(op, [{ kind: 'batch', rows }], out);
        watermark = Math.max(watermark, maxSeen - 20);
        const before = out.emitted.length;
        op.onWatermark!(watermark, out);
        for (const e of out.emitted.slice(before)) {
          assert.ok((e.record.window_end as number) >= lastEnd);
          lastEnd = e.record.window_end as number;
        }
      }
      op.onWatermark!(Number.POSITIVE_INFINITY, out);
      assert.equal(out.lateRecords.length, 0);
      const expected: Row[] = [];
      for (const key of ['k0', 'k1', 'k2', 'k3']) {
        const rows = all.filter((r) => r.k === key).sort((a, b) => a.t - b.t);
        let i = 0;
        while (i < rows.length) {
          let j = i;
          while (j + 1 < rows.length && rows[j + 1].t < rows[j].t + gap) j++;
          const part = rows.slice(i, j + 1);
          expected.push({
            k: key,
            window_start: part[0].t,
            window_end: part[part.length - 1].t + gap,
            n: part.length,
            total: part.reduce((a, r) => a + r.v, 0),
          });
          i = j + 1;
        }
      }
      const order = (a: Row, b: Row) =>
        (a.window_end as number) - (b.window_end as number) || String(a.k).localeCompare(String(b.k));
      assert.deepEqual(
        out
          .take()
          .map(({ p90: _, ...r }) => r)
          .sort(order),
        expected.sort(order),
      );
    }
  });
});

/** The watermark that stands before the records of batch `step`: the greatest one before it. */
function watermarkOf(steps: readonly Step[], step: Step): number {
  let w = Number.NEGATIVE_INFINITY;
  for (const s of steps) {
    if (s === step) break;
    if (s.kind === 'watermark' && s.w > w) w = s.w;
  }
  return w;
}

/** The folded changelog without the percentile, as a table (key, window) → result. */
function folded(out: CollectingOutput): Map<string, Row> {
  const table = new Map<string, Row>();
  for (const [id, { p90: _, ...r }] of foldChangelog(out.emitted)) table.set(id, r);
  return table;
}

describe('window aggregate with allowed lateness: the folded changelog is the final table', () => {
  for (const spec of aligned) {
    for (const lateness of [7, 40]) {
      it(`${JSON.stringify(spec)}, allowed lateness ${lateness}: equals a plain loop over the input`, () => {
        let updates = 0;
        for (let seed = 1; seed <= 5; seed++) {
          const steps = scenario(seed * 17 + lateness, 150, 12);
          const out = new CollectingOutput();
          const op = operator(spec, lateness);
          open(op);
          run(op, steps, out);
          updates += out.emitted.filter((e) => e.kind === UPDATE_BEFORE).length;
          // Each record goes to each of its windows whose end − 1 + lateness is past the watermark
          // before it; it is late when it goes to none.
          type Result = { k: string; window_start: number; window_end: number; n: number; total: number };
          const expected = new Map<string, Result>();
          const late: number[] = [];
          let watermark = Number.NEGATIVE_INFINITY;
          for (const step of steps) {
            if (step.kind === 'watermark') {
              watermark = Math.max(watermark, step.w);
              continue;
            }
            for (const { k, v, t } of step.rows) {
              const live = windowsContaining(spec, t).filter(([, end]) => end - 1 + lateness > watermark);
              if (live.length === 0) late.push(t);
              for (const [start, end] of live) {
                const row = { k, window_start: start, window_end: end, n: 0, total: 0 };
                const id = windowId(row);
                const r = expected.get(id) ?? row;
                r.n += 1;
                r.total += v;
                expected.set(id, r);
              }
            }
          }
          assert.deepEqual(
            out.lateRecords.map((l) => l.time),
            late,
          );
          assert.deepEqual(new Map([...folded(out)].sort()), new Map([...expected].sort()), `seed ${seed}`);
        }
        assert.ok(updates > 0, 'late firings updated results');
      });
    }
  }

  it('sessions: equals a naive model of merging sessions, with merges deleting results', () => {
    let deletes = 0;
    let updates = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const gap = 4 + seed;
      const lateness = 10 * seed;
      const steps = scenario(seed * 13, 200, 12);
      const out = new CollectingOutput();
      const op = operator({ type: 'session', gap }, lateness);
      open(op);
      run(op, steps, out);
      deletes += out.emitted.filter((e) => e.kind === DELETE).length;
      updates += out.emitted.filter((e) => e.kind === UPDATE_BEFORE).length;
      // A naive model: per key a list of sessions, merged by each record that overlaps them; a
      // session's state is dropped (its result final) once the watermark passes end − 1 + lateness,
      // and a record is late when it overlaps no live session and its own window [t, t + gap) is
      // past that bound.
      const live = new Map<string, { start: number; end: number; n: number; total: number }[]>();
      const expected = new Map<string, Row>();
      const late: number[] = [];
      const finish = (k: string, x: { start: number; end: number; n: number; total: number }) => {
        const row = { k, window_start: x.start, window_end: x.end, n: x.n, total: x.total };
        expected.set(windowId(row), row);
      };
      for (const step of steps) {
        if (step.kind === 'watermark') {
          for (const [k, list] of live) {
            for (const x of list.filter((x) => x.end - 1 + lateness <= step.w)) finish(k, x);
            live.set(
              k,
              list.filter((x) => x.end - 1 + lateness > step.w),
            );
          }
          continue;
        }
        for (const { k, v, t } of step.rows) {
          const list = live.get(k) ?? [];
          const overlapping = list.filter((x) => x.start < t + gap && x.end > t);
          if (overlapping.length === 0 && t + gap - 1 + lateness <= watermarkOf(steps, step)) {
            late.push(t);
            continue;
          }
          const merged = { start: t, end: t + gap, n: 1, total: v };
          for (const x of overlapping) {
            merged.start = Math.min(merged.start, x.start);
            merged.end = Math.max(merged.end, x.end);
            merged.n += x.n;
            merged.total += x.total;
          }
          live.set(k, [...list.filter((x) => !overlapping.includes(x)), merged]);
        }
      }
      for (const [k, list] of live) for (const x of list) finish(k, x);
      assert.deepEqual(
        out.lateRecords.map((l) => l.time),
        late,
      );
      assert.deepEqual(new Map([...folded(out)].sort()), new Map([...expected].sort()), `seed ${seed}`);
    }
    assert.ok(deletes > 0, `merges deleted results (${deletes})`);
    assert.ok(updates > 0, `late firings updated results (${updates})`);
  });
});

describe('window aggregate: snapshot and restore', () => {
  const specs: WindowSpec[] = [...aligned, { type: 'session', gap: 6 }, { type: 'session', gap: 15 }];
  for (const spec of specs) {
    it(`a restored operator continues exactly like one that never stopped: ${JSON.stringify(spec)}`, () => {
      for (const [seed, lateness, keyed] of [
        [1, 0, false],
        [2, 10, true],
        [3, 50, false],
      ] as const) {
        const steps = scenario(seed, 120, 15, keyed);
        const straight = new CollectingOutput();
        const whole = operator(spec, lateness);
        open(whole);
        run(whole, steps, straight, keyed);
        for (const cut of [1, 40, 77, steps.length - 1]) {
          const resumed = new CollectingOutput();
          const first = operator(spec, lateness);
          open(first);
          run(first, steps.slice(0, cut), resumed, keyed);
          const second = operator(spec, lateness);
          open(second, roundTrip(first.snapshot!()));
          const middle = Math.floor((cut + steps.length) / 2);
          run(second, steps.slice(cut, middle), resumed, keyed);
          const third = operator(spec, lateness);
          open(third, roundTrip(second.snapshot!()));
          run(third, steps.slice(middle), resumed, keyed);
          assert.deepEqual(resumed.emitted, straight.emitted, `seed ${seed} cut ${cut}`);
          assert.deepEqual(resumed.lateRecords, straight.lateRecords, `seed ${seed} cut ${cut}`);
        }
        assert.ok(straight.emitted.length > 20);
        assert.ok(straight.lateRecords.length > 0 || lateness > 0);
      }
    });
  }
});
