/**
 * Keys in the plan: what each stream is partitioned by and which fields identify its rows, as
 * `resolvePlan` works them out per step type, and the check that refuses an upsert sink keyed by
 * fields that do not identify the rows of its updating input.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Type } from 'typebox';
import { count } from '../api/aggregates.ts';
import { generate, stdout } from '../api/builtin-components.ts';
import { pipeline } from '../api/pipeline.ts';
import { builtins } from '../builtins.ts';
import { ConfigErrors, SluiceError } from '../errors.ts';
import { Registry } from '../registry.ts';
import { defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';
import { parsePipelineYaml } from '../yaml/index.ts';
import type { StreamKey } from './keys.ts';
import type { Plan } from './plan.ts';
import { resolvePlan } from './resolve.ts';

/** A step with a side output `rest` that keeps its input's key, to follow keys through ports. */
const splitStep = defineStep({
  type: 'split',
  summary: 'Passes records on, and some to `rest`.',
  config: Type.Object({}, { additionalProperties: false }),
  changelog: () => PER_RECORD_CHANGELOG,
  key: (_cfg, [input]) => input,
  sideOutputs: [{ name: 'rest', description: 'the others', key: ([input]) => input }],
  create: () => ({ processBatch() {} }),
});

const reg = new Registry([builtins, { name: 'test', components: [splitStep] }]);

const head =
  'name: p\nsources:\n  orders: { type: generate, template: orders }\n  extra: { type: generate, template: orders }\n';

function resolve(text: string): Plan {
  return resolvePlan(parsePipelineYaml(text, 'p.yaml', { registry: reg, env: {} }), reg);
}

/** The keys of a plan of `steps` (YAML lines) written to a discard sink. */
function keys(steps: string): { readonly [ref: string]: StreamKey } {
  return resolve(`${head}steps:\n${steps}sinks:\n  out: { type: discard }\n`).keys!;
}

function refused(text: string): SluiceError {
  try {
    resolve(text);
  } catch (err) {
    assert.ok(err instanceof SluiceError, String(err));
    assert.ok(!(err instanceof ConfigErrors), `several problems:\n${err.message}`);
    assert.equal(err.code, 'PLAN_KEY_MISMATCH', err.message);
    return err;
  }
  assert.fail('the plan was accepted');
}

const NONE = { kind: 'none' } as const;
const byFields = (...fields: string[]) => ({ kind: 'fields', fields }) as const;

describe('partition keys', () => {
  test('a source is not partitioned; key_by partitions by its fields or expressions', () => {
    const k = keys(
      '  - { id: a, type: key_by, input: orders, key: [region, customer_id] }\n  - { id: b, type: key_by, input: orders, key: [lower(region), amount * 2] }\n',
    );
    assert.deepEqual(k.orders, { partition: NONE });
    assert.deepEqual(k.a, { partition: byFields('region', 'customer_id') });
    assert.deepEqual(k.b, {
      partition: {
        kind: 'expressions',
        expressions: ['lower(region)', 'amount * 2'],
        reads: ['region', 'amount'],
      },
    });
  });

  test('filter, validate and dedupe keep the key', () => {
    const k = keys(
      "  - { id: k, type: key_by, input: orders, key: [region] }\n  - { id: f, type: filter, where: 'amount > 0' }\n  - { id: v, type: validate, schema: { type: object } }\n  - { id: d, type: dedupe, within: 1m }\n",
    );
    for (const id of ['f', 'v', 'd']) assert.deepEqual(k[id], { partition: byFields('region') }, id);
  });

  test('a map keeps a key whose fields it passes through unchanged, by name', () => {
    const k = keys(
      [
        '  - { id: k, type: key_by, input: orders, key: [region] }',
        "  - { id: other, type: map, input: k, fields: { amount: 'amount * 2' } }",
        '  - { id: changed, type: map, input: k, fields: { region: upper(region) } }',
        '  - { id: dropped, type: map, input: k, drop: [region] }',
        '  - { id: selected, type: map, input: k, select: [region, amount] }',
        '  - { id: unselected, type: map, input: k, select: [amount] }',
        '  - { id: e, type: key_by, input: orders, key: [lower(region)] }',
        "  - { id: e_other, type: map, input: e, fields: { x: '1' } }",
        '  - { id: e_changed, type: map, input: e, fields: { region: upper(region) } }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(k.other, { partition: byFields('region') });
    assert.deepEqual(k.selected, { partition: byFields('region') });
    assert.deepEqual(k.e_other.partition?.kind, 'expressions');
    // The key still travels beside the records, but no field of theirs holds it any more.
    for (const id of ['changed', 'dropped', 'unselected'])
      assert.deepEqual(
        k[id],
        { partition: { kind: 'opaque', why: `key [region], of fields step '${id}' changes or drops` } },
        id,
      );
    assert.equal(k.e_changed.partition?.kind, 'opaque');
  });

  test('a union is keyed only when all its inputs are keyed alike', () => {
    const k = keys(
      [
        '  - { id: a, type: key_by, input: orders, key: [region] }',
        '  - { id: b, type: key_by, input: extra, key: [region] }',
        '  - { id: c, type: key_by, input: extra, key: [customer_id] }',
        '  - { id: same, type: union, input: [a, b] }',
        '  - { id: different, type: union, input: [a, c] }',
        '  - { id: half, type: union, input: [a, extra] }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(k.same, { partition: byFields('region') });
    assert.deepEqual(k.different, { partition: NONE });
    assert.deepEqual(k.half, { partition: NONE });
  });

  test('a side output gets its key from its declaration', () => {
    const k = keys('  - { id: k, type: key_by, input: orders, key: [region] }\n  - { id: s, type: split }\n');
    assert.deepEqual(k['s.rest'], { partition: byFields('region') });
  });

  test('a step without a key rule gives an unknown key', () => {
    const k = keys(
      '  - { id: k, type: key_by, input: orders, key: [region] }\n  - { id: l, type: map_async }\n',
    );
    assert.deepEqual(k.l, {});
  });
});

describe('unique keys', () => {
  test('an aggregate is unique on its key fields, and with a window on its bounds too', () => {
    const k = keys(
      [
        "  - { id: updating, type: aggregate, input: orders, key: [region, customer_id], fields: { n: 'count(*)' } }",
        "  - { id: windowed, type: aggregate, input: orders, key: [region], window: { type: tumbling, size: 1m }, fields: { n: 'count(*)' } }",
        "  - { id: late, type: aggregate, input: orders, key: [region], window: { type: tumbling, size: 1m }, allowed_lateness: 1m, fields: { n: 'count(*)' } }",
        "  - { id: global, type: aggregate, input: orders, fields: { n: 'count(*)' } }",
        '',
      ].join('\n'),
    );
    assert.deepEqual(k.updating, { partition: NONE, unique: [['region', 'customer_id']] });
    assert.deepEqual(k.windowed, { partition: NONE, unique: [['region', 'window_start', 'window_end']] });
    assert.deepEqual(k.late, k.windowed);
    // One group: at most one row, identified by no field at all.
    assert.deepEqual(k.global, { partition: NONE, unique: [[]] });
  });

  test('an aggregate after key_by groups by its key fields when it has some, else by the key_by key', () => {
    const k = keys(
      [
        '  - { id: k, type: key_by, input: orders, key: [region] }',
        "  - { id: same, type: aggregate, input: k, key: [region], fields: { n: 'count(*)' } }",
        "  - { id: bare, type: aggregate, input: k, fields: { n: 'count(*)' } }",
        "  - { id: other, type: aggregate, input: k, key: [customer_id], fields: { n: 'count(*)' } }",
        '',
      ].join('\n'),
    );
    assert.deepEqual(k.same, { partition: { kind: 'none' }, unique: [['region']] });
    assert.deepEqual(k.bare, {
      partition: { kind: 'opaque', why: 'key [region] of its input, in field `key`' },
      unique: [['key']],
    });
    // Regrouped by customer_id: the results are no longer partitioned by region.
    assert.deepEqual(k.other, { partition: { kind: 'none' }, unique: [['customer_id']] });
  });

  test('top_n: the key and the rank, the key alone for n = 1, no field otherwise', () => {
    const k = keys(
      [
        '  - { id: ranked, type: top_n, input: orders, key: [region], order_by: [amount DESC], n: 3, rank_field: rank }',
        '  - { id: first, type: top_n, input: orders, key: [region], order_by: [amount DESC], n: 1 }',
        '  - { id: three, type: top_n, input: orders, key: [region], order_by: [amount DESC], n: 3 }',
        '  - { id: k, type: key_by, input: orders, key: [customer_id] }',
        '  - { id: upstream, type: top_n, input: k, order_by: [amount DESC], n: 2, rank_field: r }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(k.ranked, { partition: NONE, unique: [['region', 'rank']] });
    assert.deepEqual(k.first, { partition: NONE, unique: [['region']] });
    assert.deepEqual(k.three, { partition: NONE, unique: [] });
    assert.deepEqual(k.upstream, { partition: byFields('customer_id'), unique: [['customer_id', 'r']] });
  });

  test('pattern: keyed by its own key fields, which it outputs; an upstream key it does not output is opaque', () => {
    const stages = "stages: [{ name: A, where: 'amount > 10' }]";
    const k = keys(
      [
        `  - { id: own, type: pattern, input: orders, key: [region], ${stages} }`,
        '  - { id: k, type: key_by, input: orders, key: [customer_id] }',
        `  - { id: upstream, type: pattern, input: k, ${stages} }`,
        '',
      ].join('\n'),
    );
    assert.deepEqual(k.own, { partition: byFields('region') });
    assert.deepEqual(k.upstream, {
      partition: { kind: 'opaque', why: "key [customer_id], which step 'upstream' does not output" },
    });
  });

  test('deduplicate is unique on its key; a map keeps a unique key it passes through', () => {
    const k = keys(
      [
        '  - { id: last, type: deduplicate, input: orders, key: [customer_id], keep: last }',
        '  - { id: first, type: deduplicate, input: orders, key: [customer_id], keep: first }',
        '  - { id: computed, type: deduplicate, input: orders, key: [lower(region)], keep: last }',
        "  - { id: kept, type: map, input: last, fields: { amount: 'amount * 2' } }",
        '  - { id: lost, type: map, input: last, drop: [customer_id] }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(k.last, { partition: NONE, unique: [['customer_id']] });
    assert.deepEqual(k.first, k.last);
    assert.deepEqual(k.computed, { partition: NONE, unique: [] });
    assert.deepEqual(k.kept, k.last);
    assert.deepEqual(k.lost, { partition: NONE, unique: [] });
  });

  const tables = [
    "  - { id: totals, type: aggregate, input: orders, key: [customer_id], fields: { spent: 'sum(amount)' } }",
    "  - { id: regions, type: aggregate, input: extra, key: [region, customer_id], fields: { n: 'count(*)' } }",
    "  - { id: per_region, type: aggregate, input: extra, key: [region], fields: { n: 'count(*)' } }",
    '',
  ].join('\n');
  const join = (id: string, inputs: string, on: string, more: string) =>
    `  - id: ${id}\n    type: join\n    input: [${inputs}]\n    on: ${on}\n${more}`;
  const fields =
    '    fields: { customer: totals.customer_id, spent: totals.spent, region: regions.region, rc: regions.customer_id }\n';

  test('a regular join: the other side’s key when one side is unique on the join key', () => {
    const k = keys(
      tables +
        join('inner', 'totals, regions', 'totals.customer_id = regions.customer_id', fields) +
        join(
          'left',
          'totals, regions',
          'totals.customer_id = regions.customer_id',
          `    kind: left\n${fields}`,
        ) +
        join(
          'full',
          'totals, regions',
          'totals.customer_id = regions.customer_id',
          `    kind: full\n${fields}`,
        ) +
        join('pair', 'totals, regions', 'totals.customer_id = regions.customer_id', ''),
    );
    // totals is unique on customer_id: each regions row has one partner, and regions' key identifies the pair.
    assert.deepEqual(k.inner, { partition: NONE, unique: [['region', 'rc']] });
    // A left join pads totals rows without a partner: only a key of both sides holds.
    assert.deepEqual(k.left, { partition: NONE, unique: [['customer', 'region', 'rc']] });
    assert.deepEqual(k.full, k.left);
    // The default output nests the two rows: no top-level field identifies a pair.
    assert.deepEqual(k.pair, { partition: NONE });
  });

  test('a regular join of two sides unique on the join key is unique on it', () => {
    const k = keys(
      tables +
        join(
          'both',
          'totals, per_region',
          'totals.customer_id = per_region.region',
          '    fields: { customer: totals.customer_id, region: per_region.region }\n',
        ),
    );
    assert.deepEqual(k.both, { partition: NONE, unique: [['customer'], ['region']] });
  });

  test('interval, window and temporal joins are append-only: no key', () => {
    const on = 'orders.customer_id = extra.customer_id';
    const k = keys(
      join('interval', 'orders, extra', on, '    between: [-1s, 1s]\n') +
        join('windowed', 'orders, extra', on, '    window: { type: tumbling, size: 1m }\n') +
        join('temporal', 'orders, extra', on, '    temporal: true\n') +
        join('regular', 'orders, extra', on, '    fields: { c: orders.customer_id }\n'),
    );
    for (const id of ['interval', 'windowed', 'temporal']) assert.deepEqual(k[id], { partition: NONE }, id);
    // Sources have no known unique key, so neither has their regular join.
    assert.deepEqual(k.regular, { partition: NONE });
  });

  test('the keys are plain data, kept through JSON', () => {
    const k = keys(`${tables}  - { id: k, type: key_by, input: orders, key: [lower(region)] }\n`);
    assert.deepEqual(JSON.parse(JSON.stringify(k)), k);
  });
});

describe('upsert sinks', () => {
  const totals = (key: string) =>
    `${head}steps:\n  - id: totals\n    type: aggregate\n    input: orders\n    key: [${key}]\n    fields: { n: 'count(*)' }\n`;

  test('a sink keyed by other fields than the stream is refused at its key, saying which', () => {
    const err = refused(
      `${totals('region, customer_id')}sinks:\n  out:\n    type: stdout\n    changelog: upsert\n    key: [region]\n`,
    );
    assert.deepEqual(
      { step: err.step, path: err.path, file: err.file, line: err.line, column: err.column },
      { step: 'out', path: 'key', file: 'p.yaml', line: 15, column: 10 },
    );
    assert.equal(
      err.message,
      "sink 'out' (stdout) upserts rows by `key: [region]`, but its input 'totals' is an updating stream whose rows are identified by [region, customer_id]: rows that differ only in [customer_id] would be written under one key, and an update or delete of one would overwrite or delete the other; set `key: [region, customer_id]`, or compute the stream grouped by the key the sink should have (Sluice cannot re-key an updating stream on its way to a sink)",
    );
  });

  test('file and http sinks are checked alike', () => {
    const file = refused(
      `${totals('region')}sinks:\n  out: { type: file, path: out.jsonl, changelog: upsert, key: [customer_id] }\n`,
    );
    assert.match(file.message, /^sink 'out' \(file\) upserts rows by `key: \[customer_id\]`/);
    const http = refused(
      `${totals('region')}sinks:\n  out: { type: http, url: 'http://127.0.0.1:1/x', changelog: upsert, key: [customer_id] }\n`,
    );
    assert.match(http.message, /identified by \[region\]/);
  });

  test('a sink keyed by the stream’s key, or by more fields, is accepted', () => {
    resolve(`${totals('region')}sinks:\n  out: { type: stdout, changelog: upsert, key: [region] }\n`);
    // Each update-before deletes the old row under its own key: a wider key folds correctly.
    resolve(`${totals('region')}sinks:\n  out: { type: stdout, changelog: upsert, key: [region, n] }\n`);
  });

  test('a sink after a stream whose key is unknown, or that appends, is accepted', () => {
    const two =
      "  - { id: a, type: aggregate, input: orders, key: [region], fields: { n: 'count(*)' } }\n  - { id: b, type: aggregate, input: extra, key: [region], fields: { n: 'count(*)' } }\n  - { id: both, type: union, input: [a, b] }\n";
    resolve(`${head}steps:\n${two}sinks:\n  out: { type: stdout, changelog: upsert, key: [n] }\n`);
    const windowed =
      "  - { id: w, type: aggregate, input: orders, key: [region], window: { type: tumbling, size: 1m }, fields: { n: 'count(*)' } }\n";
    resolve(`${head}steps:\n${windowed}sinks:\n  out: { type: stdout, changelog: upsert, key: [n] }\n`);
    // With lateness the results update, identified by the key and the window.
    const err = refused(
      `${head}steps:\n${windowed.replace('fields:', 'allowed_lateness: 1m, fields:')}sinks:\n  out: { type: stdout, changelog: upsert, key: [region] }\n`,
    );
    assert.match(err.message, /identified by \[region, window_start, window_end\]/);
  });

  test('top_n, deduplicate and a regular join are checked by the keys their rows have', () => {
    const sink = (input: string, key: string) =>
      `sinks:\n  out: { type: stdout, input: ${input}, changelog: upsert, key: [${key}] }\n`;
    const ranked = `${head}steps:\n  - { id: top, type: top_n, input: orders, key: [region], order_by: [amount DESC], n: 3, rank_field: rank }\n`;
    resolve(ranked + sink('top', 'region, rank'));
    assert.match(refused(ranked + sink('top', 'region')).message, /identified by \[region, rank\]/);
    const last = `${head}steps:\n  - { id: latest, type: deduplicate, input: orders, key: [customer_id], keep: last }\n`;
    resolve(last + sink('latest', 'customer_id'));
    assert.match(refused(last + sink('latest', 'region')).message, /set `key: \[customer_id\]`/);
    const joined = `${head}steps:\n  - { id: totals, type: aggregate, input: orders, key: [customer_id], fields: { spent: 'sum(amount)' } }\n  - id: j\n    type: join\n    input: [extra, totals]\n    on: extra.customer_id = totals.customer_id\n    kind: right\n    fields: { customer: totals.customer_id, amount: extra.amount }\n`;
    // The left side (a source) has no known key, so neither has the join's output: accepted.
    resolve(joined + sink('j', 'amount'));
  });

  test('TypeScript: a keyBy function groups the aggregate, whose results name it in `key`', () => {
    const build = (key: string[]) => {
      const p = pipeline('ts-keys');
      p.from('in', generate({ template: 'orders' }))
        .keyBy('k', (r) => String(r.region))
        .aggregate('totals', { n: count() })
        .to('out', stdout({ changelog: 'upsert', key }));
      return resolvePlan(p.build('/tmp').plan, reg);
    };
    const plan = build(['key']);
    assert.deepEqual(plan.keys?.k, { partition: { kind: 'opaque', why: 'a TypeScript function' } });
    assert.deepEqual(plan.keys?.totals.unique, [['key']]);
    assert.throws(
      () => build(['region']),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.code === 'PLAN_KEY_MISMATCH' &&
        err.message.includes('identified by [key]') &&
        err.message.includes('set `key: [key]`'),
    );
  });
});
