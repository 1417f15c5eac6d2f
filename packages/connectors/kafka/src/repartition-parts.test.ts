import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtins, type Plan, parsePipelineYaml, Registry, resolvePlan } from '@sluice/core';
import { repartitionParts } from './repartition-parts.ts';
import { planRepartition } from './repartition-plan.ts';
import { repartitionSink } from './repartition-sink.ts';
import { repartitionSource } from './repartition-source.ts';
import { kafkaSink } from './sink.ts';
import { kafkaSource } from './source.ts';
import type { KafkaSourceConfig } from './source-config.ts';

const registry = new Registry([builtins, { name: 'kafka', components: [kafkaSource, kafkaSink] }]);
const withRepartition = new Registry([
  builtins,
  { name: 'kafka', components: [kafkaSource, kafkaSink, repartitionSource, repartitionSink] },
]);

/** A pipeline reading a kafka topic partitioned by user, with `steps` and `sinks` (YAML lists). */
function plan(steps: string, sinks: string): Plan {
  const text = `
name: clicks
sources:
  in:
    type: kafka
    brokers: ['127.0.0.1:9092']
    topics: [clicks]
    group_id: g
    event_time: { field: ts, max_out_of_orderness: 0s }
steps:
${steps}
sinks:
${sinks}
`;
  return resolvePlan(parsePipelineYaml(text, '/tmp/clicks.yaml', { registry }), registry);
}

const byRegion = `
  - id: clean
    type: filter
    input: in
    where: region IS NOT NULL
  - id: counts
    type: aggregate
    input: clean
    key: [region]
    window: { type: tumbling, size: 1s }
    fields: { n: count(*) }`;

test('the two parts: the upstream ends in the topic writer keyed by the new key, the downstream starts at its reader', () => {
  const whole = plan(
    byRegion,
    '  raw: { type: stdout, input: clean }\n  out: { type: stdout, input: counts }',
  );
  const splits = planRepartition(whole, registry, ['user']);
  const source = whole.sources[0].config as KafkaSourceConfig;
  const chain = repartitionParts(whole, splits, { source, partitions: 4 });
  assert.deepEqual(
    chain.map((p) => p.part),
    [undefined, 'after-counts'],
  );
  const [{ plan: upstream }, { plan: downstream }] = chain;
  assert.deepEqual(upstream.sources, whole.sources);
  assert.deepEqual(
    upstream.steps.map((s) => s.id),
    ['clean'],
  );
  assert.deepEqual(
    upstream.sinks.map((s) => [s.id, s.type, s.input]),
    [
      ['raw', 'stdout', 'clean'],
      ['counts_repartition', 'kafka_repartition', 'clean'],
    ],
  );
  assert.deepEqual(upstream.sinks[1].config, {
    kafka: {
      brokers: ['127.0.0.1:9092'],
      client_id: source.client_id,
      topic: 'clicks-counts-repartition',
      key: 'k',
      format: 'json',
      delivery: 'exactly_once',
    },
    key: ['region'],
    partitions: 4,
  });
  assert.deepEqual(
    downstream.sources.map((s) => [s.id, s.type, s.eventTime]),
    [['counts_repartition', 'kafka_repartition', { maxOutOfOrderness: 0 }]],
  );
  const reader = downstream.sources[0].config as {
    kafka: { topics: string[]; isolation_level: string };
    producers: number;
  };
  assert.deepEqual(reader.kafka.topics, ['clicks-counts-repartition']);
  assert.equal(reader.kafka.isolation_level, 'read_committed');
  assert.equal(reader.producers, 4);
  assert.deepEqual(
    downstream.steps.map((s) => [s.id, s.inputs]),
    [['counts', ['counts_repartition']]],
  );
  assert.deepEqual(
    downstream.sinks.map((s) => s.id),
    ['out'],
  );
  // Both parts resolve as plans of their own (the job resolves them again).
  resolvePlan(upstream, withRepartition);
  resolvePlan(downstream, withRepartition);
});

test('a join across the topics: each input written by its join key, read back under the name its condition reads it by', () => {
  const whole = plan(
    `
  - id: clicks
    type: filter
    input: in
    where: kind = 'click'
  - id: views
    type: filter
    input: in
    where: kind = 'view'
  - id: pairs
    type: join
    input: [clicks, views]
    on: lower(clicks.page) = views.page
    window: { type: tumbling, size: 1s }
    fields: { page: views.page, clicker: clicks.user, viewer: views.user }`,
    '  out: { type: stdout, input: pairs }',
  );
  const splits = planRepartition(whole, registry, ['user']);
  const source = whole.sources[0].config as KafkaSourceConfig;
  const [{ plan: upstream }, { plan: downstream }] = repartitionParts(whole, splits, {
    source,
    partitions: 3,
  });
  assert.deepEqual(
    upstream.sinks.map((s) => {
      const c = s.config as { kafka: { topic: string }; key: string[]; partitions: number };
      return [s.id, s.input, c.kafka.topic, c.key, c.partitions];
    }),
    [
      ['pairs_clicks_repartition', 'clicks', 'clicks-pairs-clicks-repartition', ['lower(page)'], 3],
      ['pairs_views_repartition', 'views', 'clicks-pairs-views-repartition', ['page'], 3],
    ],
  );
  assert.deepEqual(
    downstream.sources.map((s) => [s.id, (s.config as { kafka: { topics: string[] } }).kafka.topics]),
    [
      ['clicks', ['clicks-pairs-clicks-repartition']],
      ['views', ['clicks-pairs-views-repartition']],
    ],
  );
  assert.deepEqual(
    downstream.steps.map((s) => [s.id, s.inputs]),
    [['pairs', ['clicks', 'views']]],
  );
  resolvePlan(upstream, withRepartition);
  resolvePlan(downstream, withRepartition);
});

test('a chain of two regroupings: three parts, the middle one reading the first topic and writing the second', () => {
  const whole = plan(
    `${byRegion}
  - id: by_country
    type: key_by
    input: counts
    key: ["split_part(region, '-', 1)"]
  - id: per_country
    type: aggregate
    input: by_country
    window: { type: tumbling, size: 2s }
    fields: { n: sum(n) }`,
    '  mid: { type: stdout, input: counts }\n  out: { type: stdout, input: per_country }',
  );
  const splits = planRepartition(whole, registry, ['user']);
  const source = whole.sources[0].config as KafkaSourceConfig;
  const chain = repartitionParts(whole, splits, { source, partitions: 4 });
  assert.deepEqual(
    chain.map(({ plan: p, part }) => [
      part,
      p.sources.map((s) => [s.id, s.type]),
      p.steps.map((s) => [s.id, s.inputs]),
      p.sinks.map((s) => [s.id, s.type, s.input]),
    ]),
    [
      [
        undefined,
        [['in', 'kafka']],
        [['clean', ['in']]],
        [['counts_repartition', 'kafka_repartition', 'clean']],
      ],
      [
        'after-counts',
        [['counts_repartition', 'kafka_repartition']],
        [['counts', ['counts_repartition']]],
        [
          ['mid', 'stdout', 'counts'],
          ['by_country_repartition', 'kafka_repartition', 'counts'],
        ],
      ],
      [
        'after-by_country',
        [['by_country_repartition', 'kafka_repartition']],
        [
          ['by_country', ['by_country_repartition']],
          ['per_country', ['by_country']],
        ],
        [['out', 'stdout', 'per_country']],
      ],
    ],
  );
  const writer = chain[1].plan.sinks[1].config as { kafka: { topic: string }; key: string[] };
  assert.equal(writer.kafka.topic, 'clicks-by_country-repartition');
  assert.deepEqual(writer.key, ["split_part(region, '-', 1)"]);
  for (const { plan: p } of chain) resolvePlan(p, withRepartition);
});

test('an updating stream crossing: its writer takes row kinds, its reader gives the same changelog to the step after', () => {
  const whole = plan(
    `
  - id: per_user
    type: aggregate
    input: in
    key: [user, region]
    fields: { n: count(*) }
  - id: counts
    type: aggregate
    input: per_user
    key: [region]
    fields: { users: count(*), n: sum(n) }`,
    '  out: { type: stdout, input: counts, changelog: debezium }',
  );
  const splits = planRepartition(whole, registry, ['user']);
  const source = whole.sources[0].config as KafkaSourceConfig;
  const [{ plan: upstream }, { plan: downstream }] = repartitionParts(whole, splits, {
    source,
    partitions: 2,
  });
  assert.deepEqual((downstream.sources[0].config as { changelog?: unknown }).changelog, {
    mode: 'retract',
    key: ['user', 'region'],
  });
  // The plan check passes on both parts: the writer takes a retract stream, the reader gives one.
  assert.equal(resolvePlan(upstream, withRepartition).modes?.per_user, 'retract');
  assert.equal(resolvePlan(downstream, withRepartition).modes?.counts_repartition, 'retract');
  assert.equal(withRepartition.sink('kafka_repartition')?.changelog?.consumes({}).includes('retract'), true);
});
