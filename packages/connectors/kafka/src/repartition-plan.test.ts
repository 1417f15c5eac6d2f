import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtins, type Plan, parsePipelineYaml, Registry, resolvePlan } from '@sluice/core';
import { planRepartition, repartitionParts, repartitionTopic } from './repartition-plan.ts';
import { repartitionSink } from './repartition-sink.ts';
import { repartitionSource } from './repartition-source.ts';
import { kafkaSink } from './sink.ts';
import { kafkaSource } from './source.ts';
import type { KafkaSourceConfig } from './source-config.ts';

const registry = new Registry([builtins, { name: 'kafka', components: [kafkaSource, kafkaSink] }]);

/** A pipeline reading a kafka topic partitioned by user, with `steps` and `sinks` (YAML lists). */
function plan(steps: string, sinks = '  out: { type: stdout, input: counts }'): Plan {
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

test('a window keyed by region over a topic partitioned by user splits before the window', () => {
  const split = planRepartition(plan(byRegion), registry, ['user']);
  assert.deepEqual(split, {
    step: 'counts',
    input: 'clean',
    key: { kind: 'fields', fields: ['region'] },
    topic: 'clicks-counts-repartition',
    upstream: { steps: ['clean'], sinks: [] },
    downstream: { steps: ['counts'], sinks: ['out'] },
  });
});

test('no split when every keyed step groups by a key the partitioning is part of', () => {
  const steps = byRegion.replace('key: [region]', 'key: [user, region]');
  assert.equal(planRepartition(plan(steps), registry, ['user']), undefined);
  assert.equal(planRepartition(plan(byRegion), registry, ['region']), undefined);
});

test('a key_by before the keyed step moves the split before the key_by', () => {
  const steps = `
  - id: by_region
    type: key_by
    input: in
    key: [lower(region)]
  - id: counts
    type: aggregate
    input: by_region
    window: { type: tumbling, size: 1s }
    fields: { n: count(*) }`;
  const split = planRepartition(plan(steps), registry, ['user']);
  assert.equal(split?.step, 'by_region');
  assert.equal(split?.input, 'in');
  assert.deepEqual(split?.key, { kind: 'expressions', expressions: ['lower(region)'], reads: ['region'] });
  assert.deepEqual(split?.downstream, { steps: ['by_region', 'counts'], sinks: ['out'] });
});

test('sinks of the upstream part stay upstream; a second aggregate by the same key stays downstream', () => {
  const steps = `${byRegion}
  - id: totals
    type: aggregate
    input: counts
    key: [region]
    window: { type: tumbling, size: 10s }
    fields: { n: sum(n) }`;
  const split = planRepartition(
    plan(steps, '  raw: { type: stdout, input: clean }\n  out: { type: stdout, input: totals }'),
    registry,
    ['user'],
  );
  assert.deepEqual(split?.upstream, { steps: ['clean'], sinks: ['raw'] });
  assert.deepEqual(split?.downstream, { steps: ['counts', 'totals'], sinks: ['out'] });
});

test('what one repartition topic cannot do is refused, naming the step', () => {
  const again = `${byRegion}
  - id: per_country
    type: aggregate
    input: counts
    key: [n]
    window: { type: tumbling, size: 10s }
    fields: { n: sum(n) }`;
  assert.throws(() => planRepartition(plan(again), registry, ['user']), {
    code: 'CONFIG_INVALID',
    message: /step 'per_country' regroups again .*one repartition topic/,
  });
  const global = byRegion.replace('    key: [region]\n', '');
  assert.throws(() => planRepartition(plan(global), registry, ['user']), {
    code: 'CONFIG_INVALID',
    message: /step 'counts' \(aggregate\) keeps one group for all records.*partitioned_by \[user\]/,
  });
});

test('a join is refused under partitioned_by unless its inputs share a key_by', () => {
  const join = `
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
    on: clicks.user = views.user
    between: [0s, 10s]`;
  assert.throws(
    () => planRepartition(plan(join, '  out: { type: stdout, input: pairs }'), registry, ['user']),
    {
      code: 'CONFIG_INVALID',
      message: /step 'pairs' \(join\) reads 2 inputs.*key every input with the same key_by/,
    },
  );
});

test('an updating stream crossing the topic is refused: the envelope carries no row kinds', () => {
  const updating = `
  - id: per_user
    type: aggregate
    input: in
    key: [user, region]
    fields: { n: count(*) }
  - id: counts
    type: aggregate
    input: per_user
    key: [region]
    fields: { users: count(*) }`;
  assert.throws(
    () =>
      planRepartition(
        plan(updating, '  out: { type: stdout, input: counts, changelog: debezium }'),
        registry,
        ['user'],
      ),
    { code: 'CONFIG_INVALID', message: /step 'counts' regroups 'per_user', an updating stream \(retract\)/ },
  );
});

test('the topic is named after the pipeline and the step, with what Kafka refuses replaced', () => {
  assert.equal(repartitionTopic('clicks', 'counts'), 'clicks-counts-repartition');
  assert.equal(repartitionTopic('my clicks/v2', 'counts'), 'my_clicks_v2-counts-repartition');
  assert.throws(() => repartitionTopic('p'.repeat(240), 'counts'), { code: 'CONFIG_INVALID' });
});

test('the two parts: the upstream ends in the topic writer keyed by the new key, the downstream starts at its reader', () => {
  const whole = plan(
    byRegion,
    '  raw: { type: stdout, input: clean }\n  out: { type: stdout, input: counts }',
  );
  const split = planRepartition(whole, registry, ['user'])!;
  const source = whole.sources[0].config as KafkaSourceConfig;
  const { upstream, downstream } = repartitionParts(whole, split, { source, partitions: 4 });
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
  const parts = new Registry([
    builtins,
    { name: 'kafka', components: [kafkaSource, kafkaSink, repartitionSource, repartitionSink] },
  ]);
  resolvePlan(upstream, parts);
  resolvePlan(downstream, parts);
});
