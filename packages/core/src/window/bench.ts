/**
 * Benchmark of the window-aggregate operator (a script, not a test):
 * `node packages/core/src/window/bench.ts [records] [keys]`.
 *
 * Pushes records in batches of 1024 through a keyed tumbling 1-minute count(*) + sum(amount)
 * operator, advancing the watermark after every batch (bounded out-of-orderness of 5 s), and
 * prints records per CPU-second of the operator calls alone. Three grouping modes run: batch keys
 * from `key_by`, one numeric key field, and two key fields.
 */

import { aggregateFunction } from '../aggregate/registry.ts';
import type { Operator, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { ManualClock } from '../time.ts';
import { createWindowAggregate } from './window-aggregate.ts';

const total = Number(process.argv[2] ?? 2_000_000);
const keyCount = Number(process.argv[3] ?? 10_000);
const BATCH = 1024;
const EVENTS_PER_SECOND = 2_000;

let results = 0;
const output: Output = {
  emit: (batch) => {
    results += batch.records.length;
  },
  deadLetter: () => {
    throw new Error('unexpected dead letter');
  },
  late: () => {
    throw new Error('unexpected late record');
  },
  filtered: () => {},
};

const pool: Row[] = [];
const keyStrings: string[] = [];
for (let k = 0; k < keyCount; k++) keyStrings.push(`\u0000n${k}`);
for (let i = 0; i < 100_003; i++) {
  pool.push({ user: i % keyCount, region: `r${(i % keyCount) % 7}`, amount: (i * 7919) % 1000, note: 'x' });
}

function batches(): Batch[] {
  const out: Batch[] = [];
  let start = 1_700_000_000_000;
  for (let i = 0; i < total; i += BATCH) {
    const n = Math.min(BATCH, total - i);
    const records = new Array<Row>(n);
    const times = new Array<number>(n);
    const keys = new Array<string>(n);
    for (let j = 0; j < n; j++) {
      const at = i + j;
      records[j] = pool[(at * 31) % pool.length];
      times[j] = start + Math.floor(((at % BATCH) * 1000) / EVENTS_PER_SECOND) - ((at * 13) % 3000);
      keys[j] = keyStrings[(records[j].user as number) % keyCount];
    }
    start += Math.floor((n * 1000) / EVENTS_PER_SECOND);
    out.push({ records, times, keys });
  }
  return out;
}

function measure(label: string, op: Operator, input: Batch[], keyed: boolean): void {
  op.open?.({ stepId: 'bench', restored: undefined, clock: new ManualClock(0), watermark: () => 0 });
  results = 0;
  let maxTime = Number.NEGATIVE_INFINITY;
  const wall = performance.now();
  const cpu = process.cpuUsage();
  for (const batch of input) {
    const b: Batch = keyed ? batch : { records: batch.records, times: batch.times };
    op.processBatch(b, output);
    const last = batch.times[batch.times.length - 1];
    if (last > maxTime) maxTime = last;
    op.onWatermark?.(maxTime - 5_000, output);
  }
  op.onWatermark?.(Number.POSITIVE_INFINITY, output);
  const used = process.cpuUsage(cpu);
  const seconds = (used.user + used.system) / 1e6;
  const wallSeconds = (performance.now() - wall) / 1000;
  console.log(
    `${label.padEnd(28)} ${Math.round(total / seconds).toLocaleString('en-US')} records/CPU-s` +
      `  (${seconds.toFixed(3)} CPU-s, ${wallSeconds.toFixed(3)} wall-s, ${results.toLocaleString('en-US')} results)`,
  );
}

function operator(keyFields: string[]): Operator {
  return createWindowAggregate({
    stepId: 'bench',
    window: { type: 'tumbling', size: 60_000 },
    time: 'event',
    keyFields,
    fields: [
      { name: 'n', fn: aggregateFunction('count', { star: true }) },
      { name: 'total', fn: aggregateFunction('sum'), arg: (r) => r.amount },
    ],
    allowedLateness: 0,
  });
}

const input = batches();
console.log(
  `node ${process.version}, ${total.toLocaleString('en-US')} records, ${keyCount.toLocaleString('en-US')} keys, batches of ${BATCH}`,
);
for (let round = 0; round < 2; round++) {
  measure('batch keys (key_by)', operator([]), input, true);
  measure('key field user', operator(['user']), input, false);
  measure('key fields region, user', operator(['region', 'user']), input, false);
}
