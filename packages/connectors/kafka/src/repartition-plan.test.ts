import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtins, type Plan, parsePipelineYaml, Registry, resolvePlan } from '@sluice/core';
import { planRepartition, repartitionTopic } from './repartition-plan.ts';
import { kafkaSink } from './sink.ts';
import { kafkaSource } from './source.ts';

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
  const splits = planRepartition(plan(byRegion), registry, ['user']);
  assert.deepEqual(splits, [
    {
      step: 'counts',
      crossings: [
        {
          input: 'clean',
          key: { kind: 'fields', fields: ['region'] },
          topic: 'clicks-counts-repartition',
          writer: 'counts_repartition',
          reader: 'counts_repartition',
        },
      ],
      upstream: { steps: ['clean'], sinks: [] },
      downstream: { steps: ['counts'], sinks: ['out'] },
    },
  ]);
});

test('no split when every keyed step groups by a key the partitioning is part of', () => {
  const steps = byRegion.replace('key: [region]', 'key: [user, region]');
  assert.deepEqual(planRepartition(plan(steps), registry, ['user']), []);
  assert.deepEqual(planRepartition(plan(byRegion), registry, ['region']), []);
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
  const [split] = planRepartition(plan(steps), registry, ['user']);
  assert.equal(split?.step, 'by_region');
  assert.equal(split?.crossings[0].input, 'in');
  assert.deepEqual(split?.crossings[0].key, {
    kind: 'expressions',
    expressions: ['lower(region)'],
    reads: ['region'],
  });
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
  const [split] = planRepartition(
    plan(steps, '  raw: { type: stdout, input: clean }\n  out: { type: stdout, input: totals }'),
    registry,
    ['user'],
  );
  assert.deepEqual(split?.upstream, { steps: ['clean'], sinks: ['raw'] });
  assert.deepEqual(split?.downstream, { steps: ['counts', 'totals'], sinks: ['out'] });
});

test('a second regrouping after the first chains a third part, placed by the second key', () => {
  const again = `${byRegion}
  - id: by_country
    type: map
    input: counts
    fields: { country: upper(region), n: n }
  - id: per_country
    type: aggregate
    input: by_country
    key: [country]
    window: { type: tumbling, size: 10s }
    fields: { n: sum(n) }
  - id: top
    type: aggregate
    input: per_country
    key: [country]
    window: { type: tumbling, size: 1m }
    fields: { n: max(n) }`;
  const splits = planRepartition(
    plan(again, '  mid: { type: stdout, input: counts }\n  out: { type: stdout, input: top }'),
    registry,
    ['user'],
  );
  assert.deepEqual(
    splits.map((x) => [x.step, x.crossings.map((c) => [c.input, c.topic, c.key]), x.upstream, x.downstream]),
    [
      [
        'counts',
        [['clean', 'clicks-counts-repartition', { kind: 'fields', fields: ['region'] }]],
        { steps: ['clean'], sinks: [] },
        { steps: ['counts', 'by_country'], sinks: ['mid'] },
      ],
      [
        'per_country',
        [['by_country', 'clicks-per_country-repartition', { kind: 'fields', fields: ['country'] }]],
        { steps: ['counts', 'by_country'], sinks: ['mid'] },
        // A step keyed like the second topic needs nothing more.
        { steps: ['per_country', 'top'], sinks: ['out'] },
      ],
    ],
  );
});

test('what the repartition topics cannot do is refused, naming the step', () => {
  const global = byRegion.replace('    key: [region]\n', '');
  assert.throws(() => planRepartition(plan(global), registry, ['user']), {
    code: 'CONFIG_INVALID',
    message: /step 'counts' \(aggregate\) keeps one group for all records.*partitioned_by \[user\]/,
  });
  const branches = `${byRegion}
  - id: per_page
    type: aggregate
    input: clean
    key: [page]
    window: { type: tumbling, size: 1s }
    fields: { n: count(*) }`;
  assert.throws(
    () =>
      planRepartition(
        plan(branches, '  a: { type: stdout, input: counts }\n  b: { type: stdout, input: per_page }'),
        registry,
        ['user'],
      ),
    { code: 'CONFIG_INVALID', message: /steps 'counts' and 'per_page' each regroup the stream/ },
  );
});

/** Clicks and views of one topic, joined by `on` within ten seconds. */
function joinSteps(on: string): string {
  return `
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
    on: ${on}
    between: [0s, 10s]`;
}

test('a join by another key than the partitioning splits at the join: each input crosses a topic of its own by its side of the key', () => {
  const splits = planRepartition(
    plan(joinSteps('clicks.page = views.page'), '  out: { type: stdout, input: pairs }'),
    registry,
    ['user'],
  );
  assert.deepEqual(splits, [
    {
      step: 'pairs',
      crossings: [
        {
          input: 'clicks',
          key: { kind: 'fields', fields: ['page'] },
          topic: 'clicks-pairs-clicks-repartition',
          writer: 'pairs_clicks_repartition',
          reader: 'clicks',
        },
        {
          input: 'views',
          key: { kind: 'fields', fields: ['page'] },
          topic: 'clicks-pairs-views-repartition',
          writer: 'pairs_views_repartition',
          reader: 'views',
        },
      ],
      upstream: { steps: ['clicks', 'views'], sinks: [] },
      downstream: { steps: ['pairs'], sinks: ['out'] },
    },
  ]);
  // Each side by its own expressions of the key, in the order of the equalities.
  const [both] = planRepartition(
    plan(
      joinSteps('lower(views.page) = clicks.page AND clicks.site = views.site AND clicks.n > 1'),
      '  out: { type: stdout, input: pairs }',
    ),
    registry,
    ['user'],
  );
  assert.deepEqual(
    both?.crossings.map((c) => c.key),
    [
      { kind: 'fields', fields: ['page', 'site'] },
      { kind: 'expressions', expressions: ['lower(page)', 'site'], reads: ['page', 'site'] },
    ],
  );
});

test('a join whose key the partitioning is part of on both inputs needs no topic', () => {
  const sinks = '  out: { type: stdout, input: pairs }';
  assert.deepEqual(
    planRepartition(plan(joinSteps('clicks.user = views.user'), sinks), registry, ['user']),
    [],
  );
  assert.deepEqual(
    planRepartition(
      plan(joinSteps('clicks.user = views.user AND clicks.page = views.page'), sinks),
      registry,
      ['user'],
    ),
    [],
  );
  // One side keyed otherwise: both cross.
  const [split] = planRepartition(plan(joinSteps('clicks.user = views.owner'), sinks), registry, ['user']);
  assert.deepEqual(
    split.crossings.map((c) => c.input),
    ['clicks', 'views'],
  );
});

test('a join with no equality between its inputs is refused: nothing says how to regroup it', () => {
  assert.throws(
    () =>
      planRepartition(
        plan(joinSteps('clicks.n > views.n'), '  out: { type: stdout, input: pairs }'),
        registry,
        ['user'],
      ),
    { code: 'CONFIG_INVALID', message: /join 'pairs' has no equality between its inputs/ },
  );
});

test('an updating stream crosses the topic as the changelog it is, with its unique key', () => {
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
  const [split] = planRepartition(
    plan(updating, '  out: { type: stdout, input: counts, changelog: debezium }'),
    registry,
    ['user'],
  );
  assert.equal(split.step, 'counts');
  assert.deepEqual(split.crossings[0].changelog, { mode: 'retract', key: ['user', 'region'] });
});

test('the topic is named after the pipeline and the step, with what Kafka refuses replaced', () => {
  assert.equal(repartitionTopic('clicks', 'counts'), 'clicks-counts-repartition');
  assert.equal(repartitionTopic('my clicks/v2', 'counts'), 'my_clicks_v2-counts-repartition');
  assert.throws(() => repartitionTopic('p'.repeat(240), 'counts'), { code: 'CONFIG_INVALID' });
});
