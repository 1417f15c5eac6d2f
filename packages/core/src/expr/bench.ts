/**
 * Micro-benchmark of compiled expressions: prints evaluations per second for a few typical
 * expressions, next to a hand-written function for the first one.
 *
 * Run: node packages/core/src/expr/bench.ts
 */

import type { Row } from '../record.ts';
import { compileExpression, compilePredicate } from './index.ts';

const RECORDS = 1024;
const ROUNDS = 3000;

const records: Row[] = Array.from({ length: RECORDS }, (_, i) => ({
  amount: (i * 7.3) % 500,
  status: i % 3 === 0 ? 'paid' : 'pending',
  country: i % 2 === 0 ? 'de' : 'fr',
  year: 2000 + (i % 25),
  ts: 1_714_564_800_000 + i * 60_000,
}));

function measure(name: string, evaluate: (record: Row) => unknown): void {
  let sink = 0;
  const run = (rounds: number) => {
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < RECORDS; i++) if (evaluate(records[i]) !== null) sink++;
    }
  };
  run(200);
  const start = process.hrtime.bigint();
  run(ROUNDS);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const perSecond = (RECORDS * ROUNDS) / seconds;
  console.log(`${name.padEnd(58)} ${(perSecond / 1e6).toFixed(1).padStart(7)} M/s  (${sink % 10})`);
}

measure('hand-written: r.amount * 1.1', (r) => (r.amount as number) * 1.1);
measure('amount * 1.1', compileExpression('amount * 1.1').evaluate);
measure("status = 'paid' AND amount > 100 (predicate)", compilePredicate("status = 'paid' AND amount > 100"));
measure(
  "upper(country) || '-' || CAST(year AS VARCHAR)",
  compileExpression("upper(country) || '-' || CAST(year AS VARCHAR)").evaluate,
);
measure(
  "CASE WHEN amount > 250 THEN 'large' ELSE 'small' END",
  compileExpression("CASE WHEN amount > 250 THEN 'large' ELSE 'small' END").evaluate,
);
measure("date_trunc('hour', ts)", compileExpression("date_trunc('hour', ts)").evaluate);
