import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { withDefaultsOptional } from './json-schema-defaults.ts';

const withDefaults = new Ajv({ useDefaults: true, strict: false });
const plain = new Ajv({ strict: false });

const leaf = { type: 'object', properties: { x: { type: 'string', default: 'd' }, y: { type: 'string' } } };
const needsXY = { ...leaf, required: ['x', 'y'] };

/** Schemas that put a required, defaulted `x` below each keyword, and inputs that lack it. */
const cases: { name: string; schema: object; input: unknown; defaultsApply: boolean }[] = [
  { name: 'the root', schema: needsXY, input: { y: 'v' }, defaultsApply: true },
  {
    name: 'properties',
    schema: { type: 'object', properties: { w: needsXY } },
    input: { w: { y: 'v' } },
    defaultsApply: true,
  },
  { name: 'allOf', schema: { allOf: [needsXY] }, input: { y: 'v' }, defaultsApply: true },
  {
    name: 'additionalProperties',
    schema: { type: 'object', additionalProperties: needsXY },
    input: { k: { y: 'v' } },
    defaultsApply: true,
  },
  {
    name: 'patternProperties',
    schema: { type: 'object', patternProperties: { '^k': needsXY } },
    input: { k: { y: 'v' } },
    defaultsApply: true,
  },
  { name: 'items', schema: { type: 'array', items: needsXY }, input: [{ y: 'v' }], defaultsApply: true },
  // biome-ignore lint/suspicious/noThenProperty: `then` is the JSON Schema keyword, not a promise.
  { name: 'then', schema: { if: { type: 'object' }, then: needsXY }, input: { y: 'v' }, defaultsApply: true },
  {
    name: 'anyOf',
    schema: { anyOf: [needsXY, { type: 'string' }] },
    input: { y: 'v' },
    defaultsApply: false,
  },
  {
    name: 'oneOf',
    schema: { oneOf: [needsXY, { type: 'string' }] },
    input: { y: 'v' },
    defaultsApply: false,
  },
  { name: 'not', schema: { not: { not: needsXY } }, input: { y: 'v' }, defaultsApply: false },
  {
    name: 'properties under anyOf',
    schema: { anyOf: [{ type: 'object', properties: { w: needsXY } }] },
    input: { w: { y: 'v' } },
    defaultsApply: false,
  },
];

describe('withDefaultsOptional', () => {
  for (const c of cases) {
    test(`accepts what Ajv with useDefaults accepts: a default below ${c.name}`, () => {
      const loader = withDefaults.compile(c.schema)(structuredClone(c.input));
      const editor = plain.compile(withDefaultsOptional(c.schema))(structuredClone(c.input));
      assert.equal(loader, c.defaultsApply);
      assert.equal(editor, loader);
    });
  }

  test('keeps required options that have no default, and drops an emptied required list', () => {
    const relaxed = withDefaultsOptional({ ...needsXY, properties: { ...leaf.properties } });
    assert.deepEqual(relaxed.required, ['y']);
    assert.equal(plain.validate(relaxed, {}), false);
    const onlyDefaulted = withDefaultsOptional({ ...leaf, required: ['x'] });
    assert.equal(Object.hasOwn(onlyDefaulted, 'required'), false);
  });

  test('leaves its input alone', () => {
    const schema = structuredClone(needsXY);
    withDefaultsOptional(schema);
    assert.deepEqual(schema, needsXY);
  });
});
