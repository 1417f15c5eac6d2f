/**
 * The plan carries its expressions as trees: the gate (`resolvePlan`) parses each declared
 * expression once, reports syntax errors with step, path, file and line before any operator
 * exists, and the runtime compiles the trees without parsing text again. The trees are plain
 * data: a plan survives JSON with them, and they compile to what the text compiles to.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Type from 'typebox';
import { pipeline } from '../api/pipeline.ts';
import { builtins } from '../builtins.ts';
import { ConfigErrors, SluiceError } from '../errors.ts';
import { compileExpression, compilePredicate, type Expr } from '../expr/index.ts';
import { parseCount } from '../expr/parser.ts';
import { Registry } from '../registry.ts';
import { Job } from '../runtime/job.ts';
import { defineSink } from '../spec.ts';
import { testing } from '../testing/index.ts';
import { parsePipelineYaml } from '../yaml/load.ts';
import type { Plan, PlanExpressions } from './plan.ts';
import { resolvePlan } from './resolve.ts';

/** A sink with an expression (as the Kafka sink's key): it compiles the tree its factory is given. */
const keyedSink = defineSink({
  type: 'keyed',
  summary: 'Computes a key per record and drops the record.',
  delivery: 'at-most-once',
  config: Type.Object({ key: Type.String() }, { additionalProperties: false }),
  expressions: (config) => ({ key: config.key }),
  create(_config, sink) {
    assert.ok(sink !== undefined, 'a job passes the sink its trees');
    compileExpression(sink.expression('key'), { step: sink.id, path: 'key' });
    return { async open() {}, async write() {}, async close() {} };
  },
});

const registry = new Registry([builtins, testing, { name: 'keyed', components: [keyedSink] }]);

/** Every step with expressions, the event-time expression of a source, one pipeline. */
const EVERY_KIND = `name: ast
sources:
  orders:
    type: generate
    template: orders
    count: 10
    event_time: { expression: "ts + INTERVAL '1' SECOND" }
  clicks: { type: generate, template: clicks, count: 10 }
steps:
  - { id: f, type: filter, input: orders, where: "amount > 0 AND region <> 'x'" }
  - { id: m, type: map, input: f, fields: { usd: amount * 1.1, r: upper(region) } }
  - { id: k, type: key_by, input: m, key: [region, "lower(r)"] }
  - id: a
    type: aggregate
    input: f
    key: [region]
    window: { type: tumbling, size: 1m }
    fields: { n: count(*), mean: "round(sum(amount) / count(*), 2)" }
  - { id: t, type: top_n, input: f, key: [region], order_by: [amount DESC, id], n: 3 }
  - { id: d, type: dedupe, input: f, key: [id], within: 1m }
  - { id: dd, type: deduplicate, input: f, key: [id], keep: first }
  - id: p
    type: pattern
    input: f
    key: [region]
    within: 1m
    stages:
      - { name: A, where: amount > 10 }
      - { name: B, where: amount > A.amount }
    measures: { first_amount: first(A.amount), rises: count(B) }
  - id: j
    type: join
    input: [orders, clicks]
    on: orders.id = clicks.id AND clicks.ts > 0
    between: [0s, 10s]
    fields: { id: orders.id }
  - id: l
    type: lookup
    input: f
    table: { type: file, path: customers.jsonl, key: id }
    key: customer
    fields: { name: l.name, amount: f.amount }
sinks:
  out: { type: keyed, input: m, key: "upper(r)" }
dead_letter: { type: keyed, key: error.code }
`;

const load = (text: string): Plan => parsePipelineYaml(text, '/tmp/ast/pipeline.yaml', { registry });

function expressionsOf(plan: Plan): { [id: string]: PlanExpressions | undefined } {
  return {
    ...Object.fromEntries([...plan.sources, ...plan.steps, ...plan.sinks].map((c) => [c.id, c.expressions])),
    $dead_letter: plan.deadLetter?.expressions,
  };
}

const count = (plan: Plan) =>
  Object.values(expressionsOf(plan)).reduce((n, e) => n + Object.keys(e ?? {}).length, 0);

/** Whether `value` is JSON data: plain objects, arrays, strings, finite numbers, booleans, null. */
function isPlainData(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (Array.isArray(value)) return value.every(isPlainData);
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value).every(isPlainData);
}

describe('the plan carries parsed expressions', () => {
  test('each declared expression of each step and source is in the resolved plan, by config path', () => {
    const plan = resolvePlan(load(EVERY_KIND), registry);
    const paths = Object.fromEntries(
      Object.entries(expressionsOf(plan)).map(([id, e]) => [id, e && Object.keys(e)]),
    );
    assert.deepEqual(paths, {
      orders: ['event_time.expression'],
      clicks: undefined,
      f: ['where'],
      m: ['fields.usd', 'fields.r'],
      k: ['key[0]', 'key[1]'],
      a: ['key[0]', 'fields.n', 'fields.mean'],
      t: ['key[0]', 'order_by[0]', 'order_by[1]'],
      d: ['key[0]'],
      dd: ['key[0]'],
      p: ['key[0]', 'stages[0].where', 'stages[1].where', 'measures.first_amount', 'measures.rises'],
      j: ['on', 'fields.id'],
      l: ['key', 'fields.name', 'fields.amount'],
      out: ['key'],
      $dead_letter: ['key'],
    });
    // An order_by term's tree is its expression without the direction.
    assert.deepEqual(plan.steps.find((s) => s.id === 't')?.expressions?.['order_by[0]'], {
      kind: 'field',
      name: 'amount',
      start: 0,
      end: 6,
    });
  });

  test('validating a job parses each expression exactly once: at the gate, none when operators are built', async () => {
    const plan = load(EVERY_KIND);
    const expressions = count(resolvePlan(plan, registry));
    assert.equal(expressions, 26);
    const before = parseCount();
    // Resolution, then every operator, source time assigner, sink and output created as a job creates them.
    await Job.validate(plan, { registry, functions: new Map() });
    assert.equal(parseCount() - before, expressions);
  });

  test('the trees are plain data: they survive JSON and compile to what their text compiles to', () => {
    const texts = {
      big: '1e308 * 1 + 0.1',
      tiny: '5e-324 > 0',
      text: "'it''s' || ' ☃ ' || \"na me\"",
      interval: "ts + INTERVAL '1.5' SECOND - INTERVAL '-0' SECOND",
      cast: "CAST('12.5' AS DOUBLE) + 1::double",
      cases: "CASE WHEN amount > 5 THEN 'big' WHEN amount IS NULL THEN NULL ELSE 'small' END",
      simple: "CASE region WHEN 'eu' THEN 1 ELSE 2 END",
      like: "region LIKE 'e\\_%' ESCAPE '\\' OR region ILIKE 'U%' OR region NOT LIKE '%x%'",
      membership:
        "amount IN (1, 2.5, -3) AND amount NOT BETWEEN -1 AND 0 AND tags[0] IS NOT NULL AND o.k = 'v'",
      calls:
        "coalesce(missing_field, regexp_replace(region, '[aeiou]+', '-'), 'none') || extract(hour FROM ts)",
      arithmetic: '-(amount % 7) / 2 + +amount',
      bad: 'amount / 0',
    };
    const plan = resolvePlan(
      load(`name: json
sources: { in: { type: generate, template: orders, count: 1 } }
steps:
  - id: m
    type: map
    fields: ${JSON.stringify(texts)}
sinks: { out: { type: discard } }
`),
      registry,
    );
    const trees = plan.steps[0].expressions!;
    assert.ok(isPlainData(trees), 'plain JSON data');
    const copy: Plan = JSON.parse(JSON.stringify(plan));
    assert.deepEqual(copy.steps[0].expressions, trees);
    const records = [
      { amount: 7, region: 'e_u', ts: 1_000, tags: ['a'], o: { k: 'v' } },
      { amount: 2.5, region: 'US', ts: 0, tags: [], o: { k: 'w' } },
      { amount: null, region: 'axe', ts: 3_600_000, tags: [null], o: { k: null } },
    ];
    const outcome = (evaluate: (r: (typeof records)[number]) => unknown, r: (typeof records)[number]) => {
      try {
        return { value: evaluate(r) };
      } catch (err) {
        return { error: String(err) };
      }
    };
    for (const [name, text] of Object.entries(texts)) {
      const path = `fields.${name}`;
      const fromText = compileExpression(text, { step: 'm', path });
      const fromTree = compileExpression(copy.steps[0].expressions![path], { step: 'm', path });
      assert.equal(fromTree.type, fromText.type, name);
      for (const r of records)
        assert.deepEqual(
          outcome(fromTree.evaluate, r),
          outcome(fromText.evaluate, r),
          `${name} on ${JSON.stringify(r)}`,
        );
    }
    const where: Expr = JSON.parse(JSON.stringify(trees['fields.membership']));
    assert.equal(compilePredicate(where)(records[0]), compilePredicate(texts.membership)(records[0]));
  });
});

describe('one gate: syntax errors surface at resolution, located, before any operator', () => {
  const refused = (
    text: string,
    expected: { step: string; path: string; line: number; message: RegExp }[],
  ) => {
    assert.throws(
      () => resolvePlan(load(text), registry),
      (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        const errors = err instanceof ConfigErrors ? err.errors : [err];
        assert.deepEqual(
          errors.map((e) => ({ code: e.code, step: e.step, path: e.path, line: e.line, file: e.file })),
          expected.map(({ step, path, line }) => ({
            code: 'EXPR_SYNTAX',
            step,
            path,
            line,
            file: '/tmp/ast/pipeline.yaml',
          })),
        );
        for (const [i, e] of expected.entries()) assert.match(errors[i].message, e.message);
        return true;
      },
    );
  };

  test('in a step without a schema rule (pattern), in a source’s event time, and in several steps at once', () => {
    refused(
      `name: bad
sources:
  in:
    type: generate
    template: orders
    count: 1
    event_time: { expression: "ts +" }
steps:
  - id: p
    type: pattern
    key: [region]
    stages:
      - { name: A, where: amount > 10 }
      - { name: B, where: "amount >> A.amount" }
  - { id: f, type: filter, input: in, where: "(amount" }
sinks: { out: { type: discard, input: p } }
`,
      [
        { step: 'in', path: 'event_time.expression', line: 7, message: /^at column 5: / },
        { step: 'p', path: 'stages[1].where', line: 14, message: /^at column 9: / },
        { step: 'f', path: 'where', line: 15, message: /^at column 8: expected '\)'/ },
      ],
    );
  });

  test('a key entry of an aggregate that does not parse says how to quote a field name', () => {
    refused(
      `name: bad
sources: { in: { type: generate, template: orders, count: 1 } }
steps:
  - id: a
    type: aggregate
    key: [user id]
    window: { type: tumbling, size: 1m }
    fields: { n: count(*) }
sinks: { out: { type: discard } }
`,
      [
        {
          step: 'a',
          path: 'key[0]',
          line: 6,
          message:
            /^'user id' is not a field name \(at column 6: .*\); write a name that is not a plain identifier in double quotes, e\.g\. "user id"$/,
        },
      ],
    );
  });

  test('a type error inside an aggregate call points at its column in the option’s text', () => {
    assert.throws(
      () =>
        resolvePlan(
          load(`name: typed
sources: { events: { type: nexmark, events: 10 } }
steps:
  - { id: a, type: aggregate, window: { type: tumbling, size: 1m }, fields: { n: "round(sum(bid.pricee), 2)" } }
sinks: { out: { type: discard } }
`),
          registry,
        ),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.code === 'PLAN_TYPE_ERROR' &&
        err.path === 'fields.n' &&
        err.line === 4 &&
        /^at column 11: bid has no field 'pricee'/.test(err.message),
    );
  });

  test('a sink’s expressions and a source’s event time are type-checked against the records they read', () => {
    assert.throws(
      () =>
        resolvePlan(
          load(`name: typed
sources:
  events: { type: nexmark, events: 10, event_time: { expression: bid.dateTme } }
steps:
  - { id: bids, type: filter, where: event_type = 2 }
sinks: { out: { type: keyed, key: "upper(bid.channel) || bid.urll" } }
`),
          registry,
        ),
      (err: unknown) => {
        assert.ok(err instanceof ConfigErrors);
        assert.deepEqual(
          err.errors.map((e) => [e.code, e.step, e.path, e.line, e.message.replace(/;.*/, '')]),
          [
            [
              'PLAN_TYPE_ERROR',
              'events',
              'event_time.expression',
              3,
              "at column 1: bid has no field 'dateTme'",
            ],
            ['PLAN_TYPE_ERROR', 'out', 'key', 6, "at column 23: bid has no field 'urll'"],
          ],
        );
        return true;
      },
    );
  });

  test('a TypeScript pipeline goes through the same gate: its expressions are parsed and checked before it runs', () => {
    const built = (where: string) =>
      pipeline('ts')
        .from('in', { type: 'generate', config: { template: 'orders', count: 1 } })
        .filter('positive', where)
        .to('out', { type: 'discard', config: {} })
        .build('/base').plan;
    const plan = resolvePlan(built('amount > 0'), registry);
    assert.equal(plan.steps[0].expressions?.where.kind, 'binary');
    assert.throws(
      () => resolvePlan(built('amount >'), registry),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.code === 'EXPR_SYNTAX' &&
        err.step === 'positive' &&
        err.path === 'where',
    );
  });
});
