/**
 * Pub/Sub → keyed aggregate → BigQuery upserts, as one job against the two stand-ins (the
 * packages' own test servers, started here): the updating aggregate reaches BigQuery as MERGEs
 * at checkpoints, and the table ends equal to an independent computation over the input.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { bigquery } from '@sluice/bigquery';
import { BigQueryStandIn, PROJECT as BQ_PROJECT, DATASET, TOKEN } from '@sluice/bigquery/testing';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { pubsub } from '@sluice/pubsub';
import { createTopic, PROJECT, PubSubStandIn, publish, uniqueName } from '@sluice/pubsub/testing';

const pubsubServer = new PubSubStandIn();
const bigqueryServer = new BigQueryStandIn(TOKEN);
before(async () => {
  await pubsubServer.start();
  await bigqueryServer.start();
});
after(async () => {
  await pubsubServer.stop();
  await bigqueryServer.stop();
});

test('a Pub/Sub subscription aggregated per region lands in BigQuery as the table of totals', async () => {
  const topic = uniqueName('orders');
  const subscription = `${topic}-sub`;
  await createTopic(pubsubServer, topic, subscription);
  const table = `totals_${process.pid}_${Date.now().toString(36)}`;
  bigqueryServer.createTable(BQ_PROJECT, DATASET, table, [
    { name: 'region', type: 'STRING', mode: 'REQUIRED' },
    { name: 'orders', type: 'INTEGER' },
    { name: 'revenue', type: 'FLOAT' },
  ]);
  const regions = ['EU', 'US', 'APAC'];
  const orders = Array.from({ length: 90 }, (_, i) => ({
    id: i,
    region: regions[(i * 7) % 3],
    amount: (i % 10) + 0.5,
  }));
  await publish(pubsubServer, topic, orders.slice(0, 45));

  const dir = await mkdtemp(join(tmpdir(), 'sluice-google-job-'));
  const registry = new Registry([builtins, pubsub, bigquery]);
  const yaml = [
    `name: google-job-${process.pid}`,
    `settings: { checkpoint: { interval: 300ms, dir: ${JSON.stringify(dir)} } }`,
    'sources:',
    `  orders: { type: pubsub, project: ${PROJECT}, api_endpoint: ${JSON.stringify(pubsubServer.endpoint)}, subscription: ${subscription}, metadata: false }`,
    'steps:',
    '  - id: totals',
    '    type: aggregate',
    '    key: [region]',
    '    fields: { orders: count(*), revenue: sum(amount) }',
    'sinks:',
    '  out:',
    '    type: bigquery',
    `    project: ${BQ_PROJECT}`,
    `    dataset: ${DATASET}`,
    `    table: ${table}`,
    `    api_endpoint: ${JSON.stringify(bigqueryServer.endpoint)}`,
    `    access_token: ${TOKEN}`,
    '    mode: upsert',
    '    key: [region]',
  ].join('\n');
  try {
    const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
    const job = await Job.create(plan, { registry });
    const done = job.run();
    const deadline = Date.now() + 60_000;
    while (job.metrics().recordsIn < 45 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await publish(pubsubServer, topic, orders.slice(45));
    while (job.metrics().recordsIn < 90 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    job.stop();
    const result = await done;
    assert.equal(result.metrics.sources.orders.in, 90);

    const expected = new Map<string, { orders: number; revenue: number }>();
    for (const o of orders) {
      const t = expected.get(o.region as string) ?? { orders: 0, revenue: 0 };
      t.orders++;
      t.revenue += o.amount;
      expected.set(o.region as string, t);
    }
    const rows = bigqueryServer.tables.get(`${BQ_PROJECT}.${DATASET}.${table}`)?.rows ?? [];
    assert.deepEqual(
      rows
        .map((r) => ({ region: r.region, orders: Number(r.orders), revenue: Number(r.revenue) }))
        .sort((a, b) => String(a.region).localeCompare(String(b.region))),
      [...expected].map(([region, t]) => ({ region, ...t })).sort((a, b) => a.region.localeCompare(b.region)),
    );
    assert.equal(
      [...bigqueryServer.tables.keys()].filter((k) => k.includes(`${table}__sluice_`)).length,
      0,
      'no staging table left',
    );
    assert.equal(
      pubsubServer.unacknowledged(`projects/${PROJECT}/subscriptions/${subscription}`),
      0,
      'all acknowledged',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
