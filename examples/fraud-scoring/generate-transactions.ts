/**
 * Writes the fraud-scoring example's two inputs: transactions.jsonl, 4,000 seeded card
 * transactions over about seven minutes (fraud follows a fixed rule of amount, country, hour and
 * merchant words), each with a `txn_id` and no label; and labels.jsonl, one label per
 * transaction (`txn_id`, `is_fraud`) at a `label_ts` 5 seconds to 2 minutes after it — the
 * chargeback or confirmation that tells the model, later, what the transaction was — in label
 * time order. Three records are malformed and must end up in the dead-letter output: two
 * transactions (an amount that is not a number, a missing hour) and one label (not a boolean).
 *
 *   node examples/fraud-scoring/generate-transactions.ts
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { transactions, uniform } from '../../packages/ml/src/synthetic-test-data.ts';

const random = uniform(2027);
const rows: { [field: string]: unknown }[] = [];
const labels: { txn_id: string; is_fraud: unknown; label_ts: number }[] = [];
for (const [i, { is_fraud, ...t }] of transactions(2026, 4000).entries()) {
  const txn_id = `t${String(i).padStart(4, '0')}`;
  rows.push({ txn_id, ...t });
  labels.push({ txn_id, is_fraud, label_ts: t.ts + 5_000 + Math.floor(random() * 115_000) });
}
rows[1000] = { ...rows[1000], amount: 'n/a' };
const { hour: _, ...withoutHour } = rows[3000];
rows[3000] = withoutHour;
labels[2000] = { ...labels[2000], is_fraud: 'unknown' };
labels.sort((a, b) => a.label_ts - b.label_ts);

const jsonl = (records: readonly unknown[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
writeFileSync(join(import.meta.dirname, 'transactions.jsonl'), jsonl(rows));
writeFileSync(join(import.meta.dirname, 'labels.jsonl'), jsonl(labels));
