import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import formats from 'ajv-formats';
import { Type } from 'typebox';
import { parse } from 'yaml';
import { builtins } from '../builtins.ts';
import { Registry } from '../registry.ts';
import { defineSink, defineSource, defineStep } from '../spec.ts';
import { testRegistry } from '../yaml/test-registry.ts';
import { validateConfig } from './config.ts';
import { pipelineJsonSchema } from './json-schema.ts';

const schema = pipelineJsonSchema(testRegistry());
const ajv = new Ajv({ allErrors: true, strict: false });
formats.default(ajv);
const validate = ajv.compile(schema);

const good = `name: orders-per-region
settings:
  checkpoint: { interval: 10s, dir: ./.sluice/checkpoints, keep: 3 }
  batch_size: 1024
  idle_timeout: 5s
sources:
  orders:
    type: file
    path: ./orders.jsonl
    format: json
    event_time: { field: ts, max_out_of_orderness: 5s, idle_timeout: 30s }
  gen: { type: generator, count: 3 }
steps:
  - id: valid
    type: validate
    schema: ./order.schema.json
    input: orders
  - id: normalized
    type: map
    input: [valid, gen]
    fields: { region: upper(region), amount_usd: amount * 1.1 }
sinks:
  results: { type: file, path: ./out/per-region.jsonl }
  api: { type: http, url: "https://x.test/in", input: valid }
dead_letter: { type: file, path: ./out/dead-letters.jsonl }
late_output: { type: file, path: ./out/late.jsonl }
`;

const errorsOf = (text: string) => {
  validate(parse(text));
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
};

describe('pipelineJsonSchema', () => {
  test('is draft-07 and accepts a good file', () => {
    assert.equal((schema as { $schema: string }).$schema, 'http://json-schema.org/draft-07/schema#');
    assert.deepEqual(errorsOf(good), []);
  });

  test('checks each component against its own type', () => {
    const bad = good
      .replace('format: json', 'format: xml')
      .replace('type: validate', 'type: validat')
      .replace('count: 3', 'count: three')
      .replace('url: "https://x.test/in"', 'url: "https://x.test/in", method: POST');
    const errors = errorsOf(bad);
    assert.ok(errors.includes('/sources/orders/format must be equal to constant'), errors.join('\n'));
    assert.ok(errors.includes('/sources/gen/count must be integer'), errors.join('\n'));
    assert.ok(errors.includes('/steps/0/type must be equal to one of the allowed values'), errors.join('\n'));
    assert.ok(errors.includes('/sinks/api must NOT have additional properties'), errors.join('\n'));
  });

  test('rejects bad sections, ids and durations', () => {
    const errors = errorsOf(`name: p
sourcs: {}
settings: { batch_size: 0, checkpoint: { interval: soon } }
sources:
  "bad id": { type: generator }
  g: { type: generator, event_time: { field: a, expression: b } }
steps:
  - type: filter
    where: x
sinks:
  o: { type: file, path: o, event_time: { field: ts } }
`);
    for (const expected of [
      ' must NOT have additional properties',
      '/settings/batch_size must be >= 1',
      '/settings/checkpoint/interval must match pattern "^\\s*(?:\\d+(?:\\.\\d+)?|(?:\\d+(?:\\.\\d+)?(?:ms|s|m|h|d))+)\\s*$"',
      '/sources property name must be valid',
      '/sources/g/event_time must NOT be valid',
      "/steps/0 must have required property 'id'",
      '/sinks/o must NOT have additional properties',
    ]) {
      assert.ok(errors.includes(expected), `${expected}\nnot in:\n${errors.join('\n')}`);
    }
  });

  test('carries descriptions and defaults from the specs and settings', () => {
    const json = JSON.parse(JSON.stringify(schema));
    const generator = json.definitions.source.allOf[1].then;
    assert.equal(generator.description, 'Generates records.\n\nCounts from zero.');
    assert.equal(generator.properties.count.default, 10);
    assert.deepEqual(json.definitions.source.properties.type.enumDescriptions, [
      'Reads a file.',
      'Generates records.',
    ]);
    assert.equal(json.definitions.settings.properties.checkpoint.properties.interval.default, '10s');
    assert.equal(json.definitions.settings.properties.batch_size.default, 1024);
  });

  test('does not require an option the loader fills with its default', () => {
    // Specs write defaulted options without Type.Optional (Ajv's useDefaults fills them, so the
    // static type has them): the editor schema must still let a file leave them out.
    const window = Type.Union([
      Type.Object(
        { type: Type.Literal('tumbling'), size: Type.String(), offset: Type.String({ default: '0s' }) },
        { additionalProperties: false },
      ),
      Type.Object({ type: Type.Literal('session'), gap: Type.String() }, { additionalProperties: false }),
    ]);
    const reader = Type.Object(
      {
        path: Type.String(),
        mode: Type.Union([Type.Literal('once'), Type.Literal('follow')], { default: 'once' }),
        limits: Type.Object(
          { depth: Type.Integer({ default: 64 }), bytes: Type.Integer() },
          { additionalProperties: false, default: {} },
        ),
        columns: Type.Array(Type.Object({ name: Type.String(), type: Type.String({ default: 'string' }) }), {
          default: [],
        }),
      },
      { additionalProperties: false },
    );
    const nothing = () => ({ open: async () => [] });
    const registry = new Registry([
      {
        name: 'defaults',
        components: [
          defineSource({
            type: 'reader',
            delivery: 'exactly-once',
            summary: 'Reads.',
            config: reader,
            create: nothing,
          }),
          defineStep({
            type: 'windowed',
            summary: 'Windows.',
            config: Type.Object(
              { window: window, on_late: Type.String({ default: 'late_output' }) },
              { additionalProperties: false },
            ),
            create: () => ({ processBatch() {} }),
          }),
          defineSink({
            type: 'writer',
            summary: 'Writes.',
            delivery: 'at-least-once',
            config: Type.Object(
              { path: Type.String(), format: Type.String({ default: 'json' }) },
              { additionalProperties: false },
            ),
            create: () => ({ open: async () => {}, write: async () => undefined, close: async () => {} }),
          }),
        ],
      },
    ]);
    const editor = new Ajv({ allErrors: true, strict: false }).compile(pipelineJsonSchema(registry));
    const file = parse(`name: p
sources:
  in: { type: reader, path: a, limits: { bytes: 10 }, columns: [{ name: c }] }
steps:
  - { id: w, type: windowed, window: { type: session, gap: 1m } }
sinks:
  out: { type: writer, path: b }
dead_letter: { type: writer, path: c }
`);
    assert.equal(editor(file), true, JSON.stringify(editor.errors, null, 2));
    // The loader agrees: each config is valid on its own, defaults filled in.
    const { type: _, ...options } = file.sources.in;
    assert.deepEqual(validateConfig(reader, options), {
      ok: true,
      value: {
        path: 'a',
        mode: 'once',
        limits: { bytes: 10, depth: 64 },
        columns: [{ name: 'c', type: 'string' }],
      },
    });
    // A default inside one form of a union is not applied by Ajv, so that option stays required.
    const tumbling = parse(
      'name: p\nsources: { in: { type: reader, path: a, limits: { bytes: 1 } } }\nsteps: [{ id: w, type: windowed, window: { type: tumbling, size: 1m } }]\nsinks: { out: { type: writer, path: b } }\n',
    );
    assert.equal(editor(tumbling), false);
    assert.ok(
      (editor.errors ?? []).some((e) => e.message === "must have required property 'offset'"),
      JSON.stringify(editor.errors),
    );
  });

  test("a lookup step's table is checked as the lookup type it names", () => {
    const registry = new Registry([builtins]);
    const check = ajv.compile(pipelineJsonSchema(registry));
    const file = (table: string) =>
      parse(`name: p
sources: { in: { type: generate, template: orders } }
steps:
  - id: enrich
    type: lookup
    input: in
    key: customer_id
    table: ${table}
sinks: { out: { type: discard, input: enrich } }
`);
    assert.equal(
      check(file('{ type: http, url: "https://crm.example.com/c/{key}" }')),
      true,
      ajv.errorsText(check.errors),
    );
    assert.equal(check(file('{ type: file, path: ./c.jsonl, key: id, reload_interval: 1m }')), true);
    assert.equal(check(file('{ type: http, url: "https://crm.example.com/c/{key}", methd: GET }')), false);
    assert.equal(check(file('{ type: redis }')), false);
    assert.equal(check(file('{ type: file, key: id }')), false, 'path is required');
  });

  test('an empty registry still gives a valid schema that accepts no component', () => {
    const empty = new Ajv({ strict: false }).compile(pipelineJsonSchema(new Registry()));
    assert.equal(empty(parse('name: p\nsources: { a: { type: x } }\nsinks: { o: { type: y } }\n')), false);
  });
});
