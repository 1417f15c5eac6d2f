/**
 * Writes transactions.jsonl for the fraud-scoring example: 4,000 seeded card transactions over
 * about seven minutes (fraud follows a fixed rule of amount, country, hour and merchant words),
 * with three malformed ones that must end up in the dead-letter output.
 *
 *   node examples/fraud-scoring/generate-transactions.ts
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { transactions } from '../../packages/ml/src/synthetic-test-data.ts';

const rows: { [field: string]: unknown }[] = transactions(2026, 4000);
rows[1000] = { ...rows[1000], amount: 'n/a' };
rows[2000] = { ...rows[2000], is_fraud: 'unknown' };
const { hour: _, ...withoutHour } = rows[3000];
rows[3000] = withoutHour;
writeFileSync(
  join(import.meta.dirname, 'transactions.jsonl'),
  `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`,
);
