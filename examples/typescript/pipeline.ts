/**
 * The quickstart's job written with the TypeScript API: every step's record type is inferred
 * from its input, so a misspelt field is a compile error.
 *
 *   npm run sluice -- run examples/typescript/pipeline.ts
 */

import { count, fileSink, generate, percentile, pipeline, sum, Type, tumbling } from '@sluice/core';

const order = Type.Object({
  order_id: Type.String(),
  ts: Type.Integer(),
  customer_id: Type.String(),
  region: Type.String(),
  amount: Type.Number({ exclusiveMinimum: 0 }),
  currency: Type.String(),
  items: Type.Integer({ minimum: 1 }),
});

export default pipeline('orders-per-region-ts', { checkpoint: { interval: '2s', dir: './.sluice' } })
  .deadLetters(fileSink({ path: './out/dead-letters.jsonl' }))
  .from(
    'orders',
    generate({
      template: 'orders',
      count: 50_000,
      malformed: 0.01,
      out_of_order: 0.1,
      eventTime: { field: 'ts', maxOutOfOrderness: '5s' },
    }),
  )
  .validate('valid', order)
  .map('normalized', (o) => ({ ...o, region: o.region.toUpperCase(), amountUsd: o.amount * 1.1 }))
  .keyBy('by-region', (o) => o.region)
  .window(tumbling('1m'))
  .aggregate('per-region', { orders: count(), revenue: sum('amountUsd'), p95: percentile('amountUsd', 0.95) })
  .map('rounded', (r) => ({ ...r, revenue: Math.round(r.revenue * 100) / 100 }))
  .to('results', fileSink({ path: './out/per-region.jsonl' }));
