/**
 * Aggregates in pattern conditions: `A+ B` (strict, greedy, skip past last row) with
 * `price > avg(A.price) + 50` in B's condition, over runs of `--run` A records (prices 40–60)
 * each ended by a B (price 200), on 10 keys interleaved (2 for runs of 1,000). Three sides, measured alternately in
 * one process after a warm-up: the pattern operator with the running accumulators (`after`),
 * the same operator compiled to reread the stage's records on each test as before them
 * (`compileStages(…, incremental = false)`: `before`), and a plain loop finding the same
 * matches. The match counts must agree. Medians of `--runs`, as records per CPU-second.
 *
 * Every record of a run also starts a partial match (A+ may begin anywhere), so a run of n
 * records costs the NFA O(n²) tests either way; rereading made each test O(n) more.
 *
 *   node bench/pattern-aggregates.ts [--runs 5] [--json]
 */

import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ManualClock } from '../packages/core/src/index.ts';
import type { Output } from '../packages/core/src/operator.ts';
import { createPatternOperator } from '../packages/core/src/operators/pattern.ts';
import { compileStages } from '../packages/core/src/operators/pattern-compile.ts';
import { patternStep } from '../packages/core/src/operators/pattern-step.ts';
import { withExpressions } from '../packages/core/src/operators/step-test-support.ts';
import type { Batch, Row } from '../packages/core/src/record.ts';
import { measure, median } from './measure.ts';

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, json: { type: 'boolean', default: false } },
});
const RUNS = Number(args.runs);
/** Run length, records per measured run and keys: the rereading side is cubic in the run length. */
const SIZES: [run: number, records: number, keys: number][] = [
  [10, 200_000, 10],
  [100, 40_400, 10],
  [1000, 4_004, 2],
];

const config = {
  stages: [
    { name: 'A', where: 'price < 100', quantifier: '+' },
    { name: 'B', where: 'price > avg(A.price) + 50' },
  ],
  measures: {},
  skip: 'past_last_row' as const,
  timeouts: 'drop' as const,
  on_late: 'late_output' as const,
  running: false,
};

function input(run: number, records: number, keys: number): Batch[] {
  const batches: Batch[] = [];
  for (let from = 0; from < records; from += 1024) {
    const to = Math.min(records, from + 1024);
    const rows: Row[] = [];
    const times: number[] = [];
    const keyOf: string[] = [];
    for (let i = from; i < to; i++) {
      const p = Math.floor(i / keys);
      rows.push({ price: p % (run + 1) === run ? 200 : 40 + ((p * 7) % 21) });
      times.push(i);
      keyOf.push(`k${i % keys}`);
    }
    batches.push({ records: rows, times, keys: keyOf });
  }
  return batches;
}

class Count implements Output {
  n = 0;
  emit(batch: Batch): void {
    this.n += batch.records.length;
  }
  emitTo(): void {}
  deadLetter(): void {
    throw new Error('no record should be a dead letter');
  }
  late(): void {}
  filtered(): void {}
}

function engine(batches: readonly Batch[], incremental: boolean): number {
  const clock = new ManualClock();
  const info = withExpressions(
    { id: 'p', baseDir: '.', clock, functions: new Map() },
    patternStep.expressions?.(config) ?? {},
  );
  const { stages, absent, trail, accumulators } = compileStages(
    config.stages,
    'p',
    clock,
    info.expression,
    false,
    incremental,
  );
  const op = createPatternOperator({
    stepId: 'p',
    stages,
    absent,
    measures: [],
    keepRows: trail,
    ...(accumulators !== undefined ? { accumulators } : {}),
    within: Number.POSITIVE_INFINITY,
    skip: 'past_last_row',
    timeouts: 'drop',
  });
  op.open?.({ stepId: 'p', restored: undefined, clock, watermark: () => Number.NEGATIVE_INFINITY });
  const out = new Count();
  for (const b of batches) {
    op.processBatch(b, out);
    op.onWatermark?.(b.times[b.times.length - 1], out);
  }
  op.onWatermark?.(Number.POSITIVE_INFINITY, out);
  op.close?.(out);
  return out.n;
}

/** The same matches: per key a run of A (price < 100) and a B above its mean + 50. */
function loop(batches: readonly Batch[]): number {
  const sum = new Map<string, number>();
  const count = new Map<string, number>();
  let matches = 0;
  for (const b of batches) {
    for (let i = 0; i < b.records.length; i++) {
      const k = b.keys![i];
      const price = b.records[i].price as number;
      const n = count.get(k) ?? 0;
      const s = sum.get(k) ?? 0;
      if (price < 100) {
        count.set(k, n + 1);
        sum.set(k, s + price);
        continue;
      }
      if (n > 0 && price > s / n + 50) matches++;
      count.set(k, 0);
      sum.set(k, 0);
    }
  }
  return matches;
}

const rows: {
  run: number;
  records: number;
  keys: number;
  before: number;
  after: number;
  loop: number;
  matches: number;
}[] = [];
for (const [run, records, keys] of SIZES) {
  const batches = input(run, records, keys);
  const sides = [() => engine(batches, false), () => engine(batches, true), () => loop(batches)];
  const rates: number[][] = [[], [], []];
  const outputs = sides.map((side) => side());
  if (outputs[0] !== outputs[2] || outputs[1] !== outputs[2])
    throw new Error(`run ${run}: before ${outputs[0]}, after ${outputs[1]}, loop ${outputs[2]} matches`);
  for (let r = 0; r < RUNS; r++) {
    for (let s = 0; s < sides.length; s++) {
      const m = await measure(sides[s]);
      rates[s].push(records / (m.cpuMs / 1000));
    }
  }
  rows.push({
    run,
    records,
    keys,
    before: median(rates[0]),
    after: median(rates[1]),
    loop: median(rates[2]),
    matches: outputs[2],
  });
}

const env = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, runs: RUNS };
if (args.json) {
  process.stdout.write(`${JSON.stringify({ env, load: loadavg(), rows }, null, 2)}\n`);
} else {
  const k = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : `${(n / 1000).toFixed(2)}k`);
  process.stdout.write(
    `Pattern aggregates — Node ${env.node}, ${env.cpu} (${env.cores} cores), median of ${RUNS} runs, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n\n`,
  );
  process.stdout.write(
    '| run of A | records (keys) | before (reread) rec/CPU-s | after (accumulators) rec/CPU-s | after/before | plain loop rec/CPU-s | matches |\n',
  );
  process.stdout.write('|---|---|---|---|---|---|---|\n');
  for (const r of rows) {
    process.stdout.write(
      `| ${r.run} | ${r.records} (${r.keys}) | ${k(r.before)} | ${k(r.after)} | ${(r.after / r.before).toFixed(1)} | ${k(r.loop)} | ${r.matches} |\n`,
    );
  }
}
