/**
 * MIN and MAX over an updating input: what the retractable accumulators (each distinct value with
 * its count) cost beside the one-value ones, in the updating-aggregate operator alone (no job, no
 * source or sink), over one seeded input.
 *
 * Scenarios, each as records per CPU-second, the median of `--runs` after a warm-up:
 * - `append, min/max`: inserts only, the append-only forms (what an aggregate over an append input
 *   runs, unchanged by the retractable forms);
 * - `append, min/max retractable`: the same inserts through the retractable forms (not chosen for
 *   an append input: it shows what keeping the counts costs per add);
 * - `changelog, count/sum`: a changelog of inserts, update pairs and deletes, aggregated by the
 *   functions that could retract before;
 * - `changelog, min/max retractable`: the same changelog with min and max too.
 *
 *   node bench/minmax-retract.ts [--records 300000] [--keys 1000] [--values 1000] [--runs 5]
 */

import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { AggregateFunction } from '../packages/core/src/aggregate/aggregate-function.ts';
import { aggregateFunction } from '../packages/core/src/aggregate/registry.ts';
import type { Output } from '../packages/core/src/operator.ts';
import { createUpdatingAggregate } from '../packages/core/src/operators/updating-aggregate.ts';
import {
  type Batch,
  DELETE,
  INSERT,
  type Row,
  type RowKind,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../packages/core/src/record.ts';
import { seededRandom } from '../packages/core/src/testing/random.ts';
import { ManualClock } from '../packages/core/src/time.ts';
import { measure, median } from './measure.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '300000' },
    keys: { type: 'string', default: '1000' },
    values: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
  },
});
const RECORDS = Number(args.records);
const KEYS = Number(args.keys);
const VALUES = Number(args.values);
const RUNS = Number(args.runs);
const BATCH = 1024;

/** Inserts only, or a changelog: about 45 % inserts, 35 % update pairs, 20 % deletes. */
function input(changes: boolean): Batch[] {
  const random = seededRandom(1);
  const live: Row[] = [];
  const records: Row[] = [];
  const kinds: RowKind[] = [];
  const fresh = (): Row => ({ k: `k${Math.floor(random() * KEYS)}`, v: Math.floor(random() * VALUES) });
  while (records.length < RECORDS) {
    const roll = random();
    if (!changes || live.length === 0 || roll < 0.45) {
      const row = fresh();
      if (changes) live.push(row);
      records.push(row);
      kinds.push(INSERT);
      continue;
    }
    const at = Math.floor(random() * live.length);
    const old = live[at];
    if (roll < 0.8) {
      const row = { k: old.k, v: Math.floor(random() * VALUES) };
      live[at] = row;
      records.push(old, row);
      kinds.push(UPDATE_BEFORE, UPDATE_AFTER);
    } else {
      live[at] = live[live.length - 1];
      live.pop();
      records.push(old);
      kinds.push(DELETE);
    }
  }
  const batches: Batch[] = [];
  for (let s = 0; s < records.length; s += BATCH) {
    const part = records.slice(s, s + BATCH);
    batches.push({
      records: part,
      times: part.map((_, i) => s + i),
      ...(changes ? { kinds: kinds.slice(s, s + BATCH) } : {}),
    });
  }
  return batches;
}

/**
 * Runs the operator over `batches` (in retract mode when they carry kinds) with the aggregates
 * `names`, in their retractable forms with `forms`; returns the number of changes it emitted.
 */
function run(batches: readonly Batch[], names: readonly string[], forms: boolean): number {
  const retract = batches[0]?.kinds !== undefined;
  const arg = (r: Row) => r.v;
  const fields = names.map((name) => {
    const fn: AggregateFunction = aggregateFunction(name, { retract: forms });
    return { name, fn, arg };
  });
  const op = createUpdatingAggregate({
    stepId: 'bench',
    keyFields: ['k'],
    fields,
    ...(retract ? { retract } : {}),
  });
  op.open?.({
    stepId: 'bench',
    restored: undefined,
    clock: new ManualClock(0),
    watermark: () => Number.NEGATIVE_INFINITY,
  });
  let emitted = 0;
  const out: Output = {
    emit: (b) => {
      emitted += b.records.length;
    },
    deadLetter: () => {
      throw new Error('no dead letters expected');
    },
    late: () => {},
    filtered: () => {},
  };
  for (const b of batches) op.processBatch(b, out);
  return emitted;
}

const appendInput = input(false);
const changeInput = input(true);
const inputRecords = (batches: readonly Batch[]) => batches.reduce((n, b) => n + b.records.length, 0);
const scenarios: [string, Batch[], string[], boolean][] = [
  ['append, min/max', appendInput, ['min', 'max'], false],
  ['append, min/max retractable', appendInput, ['min', 'max'], true],
  ['changelog, count/sum', changeInput, ['count', 'sum'], true],
  ['changelog, min/max retractable', changeInput, ['min', 'max'], true],
];
console.log(
  `node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(
      ' ',
    )}; ${RECORDS} records, ${KEYS} keys, ${VALUES} distinct values, batches of ${BATCH}, ${RUNS} runs`,
);
for (const [what, batches, names, forms] of scenarios) {
  run(batches, names, forms);
  const rates: number[] = [];
  let output = 0;
  for (let i = 0; i < RUNS; i++) {
    const m = await measure(() => run(batches, names, forms));
    rates.push((inputRecords(batches) / m.cpuMs) * 1000);
    output = m.output;
  }
  console.log(
    `${what.padEnd(32)} ${Math.round(median(rates)).toLocaleString('en')} records/CPU-s (${output} changes out)`,
  );
}
