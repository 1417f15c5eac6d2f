import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Type } from 'typebox';
import { redact, secretPaths, validateConfig } from './config.ts';

const fileSchema = Type.Object(
  {
    path: Type.String({ description: 'File to read.' }),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, default: 100 })),
    timeout: Type.Optional(Type.Union([Type.String(), Type.Number()])),
    retry: Type.Optional(
      Type.Object(
        { attempts: Type.Integer({ default: 3 }), backoff: Type.Optional(Type.String()) },
        {
          additionalProperties: false,
        },
      ),
    ),
    tags: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
  },
  { additionalProperties: false },
);

describe('validateConfig', () => {
  test('applies defaults to a copy and leaves the input alone', () => {
    const input = { path: 'a.jsonl', retry: {} };
    const result = validateConfig<{ format: string; limit: number; retry: { attempts: number } }>(
      fileSchema,
      input,
    );
    assert.equal(result.ok, true);
    assert.ok(result.ok);
    assert.deepEqual(result.value, { path: 'a.jsonl', format: 'json', limit: 100, retry: { attempts: 3 } });
    assert.deepEqual(input, { path: 'a.jsonl', retry: {} });
  });

  test('applies the defaults of the union branch the value matched, at any depth', () => {
    const page = Type.Object(
      {
        type: Type.Literal('page'),
        param: Type.Optional(Type.String({ default: 'page' })),
        start: Type.Optional(Type.Integer({ default: 1 })),
      },
      { additionalProperties: false },
    );
    const cursor = Type.Object(
      { type: Type.Literal('cursor'), param: Type.Optional(Type.String({ default: 'cursor' })) },
      { additionalProperties: false },
    );
    const schema = Type.Object({
      pagination: Type.Optional(Type.Union([page, cursor])),
      hops: Type.Optional(Type.Array(Type.Union([page, cursor]))),
    });
    const input = {
      pagination: { type: 'cursor' },
      hops: [
        { type: 'page', start: 0 },
        { type: 'cursor', param: 'c' },
      ],
    };
    const result = validateConfig(schema, input);
    assert.deepEqual(result, {
      ok: true,
      value: {
        pagination: { type: 'cursor', param: 'cursor' },
        hops: [
          { type: 'page', param: 'page', start: 0 },
          { type: 'cursor', param: 'c' },
        ],
      },
    });
    assert.deepEqual(input.pagination, { type: 'cursor' }, 'the input is left alone');
  });

  test('an absent config is validated as an empty map', () => {
    const result = validateConfig(Type.Object({ n: Type.Optional(Type.Number({ default: 1 })) }), undefined);
    assert.deepEqual(result, { ok: true, value: { n: 1 } });
  });

  test('reads well: missing, unknown with a suggestion, enum, type', () => {
    const result = validateConfig(fileSchema, { formt: 'csv', format: 'xml', limit: 'x' });
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.deepEqual(result.issues, [
      { path: '', message: "missing required option 'path'" },
      { path: 'formt', message: "unknown option 'formt' — did you mean 'format'?", onKey: true },
      { path: 'format', message: 'must be one of: json, csv' },
      { path: 'limit', message: 'must be an integer' },
    ]);
  });

  test('lists the known options when nothing is close', () => {
    const result = validateConfig(fileSchema, { path: 'a', zzzzzz: 1 });
    assert.ok(!result.ok);
    assert.deepEqual(result.issues, [
      {
        path: 'zzzzzz',
        message: "unknown option 'zzzzzz'; known options: path, format, limit, timeout, retry, tags",
        onKey: true,
      },
    ]);
  });

  test('nested paths, array items, limits and unions of types', () => {
    const result = validateConfig(fileSchema, {
      path: 'a',
      limit: 0,
      timeout: true,
      retry: { backoff: 1 },
      tags: [],
    });
    assert.ok(!result.ok);
    assert.deepEqual(result.issues, [
      { path: 'limit', message: 'must be >= 1' },
      { path: 'timeout', message: 'must be a string or a number' },
      { path: 'retry.backoff', message: 'must be a string' },
      { path: 'tags', message: 'must not be empty' },
    ]);
    const items = validateConfig(fileSchema, { path: 'a', tags: ['x', 2] });
    assert.ok(!items.ok);
    assert.deepEqual(items.issues, [{ path: 'tags[1]', message: 'must be a string' }]);
  });

  test('a union with one branch of the right type reports that branch', () => {
    const schema = Type.Object({
      target: Type.Union([
        Type.String(),
        Type.Object({ host: Type.String() }, { additionalProperties: false }),
      ]),
    });
    const result = validateConfig(schema, { target: { hots: 'x' } });
    assert.ok(!result.ok);
    assert.deepEqual(result.issues, [
      { path: 'target', message: "missing required option 'host'" },
      { path: 'target.hots', message: "unknown option 'hots' — did you mean 'host'?", onKey: true },
    ]);
  });

  describe('a union of maps told apart by a type', () => {
    const schema = Type.Object({
      window: Type.Union([
        Type.Object(
          { type: Type.Literal('tumbling'), size: Type.String({ examples: ['1m'] }) },
          { additionalProperties: false },
        ),
        Type.Object(
          {
            type: Type.Literal('hopping'),
            size: Type.String({ examples: ['1m'] }),
            slide: Type.String({ examples: ['10s'] }),
          },
          { additionalProperties: false },
        ),
        Type.Object({ type: Type.Literal('session'), gap: Type.String() }, { additionalProperties: false }),
      ]),
    });
    const issues = (window: unknown) => {
      const result = validateConfig(schema, { window });
      assert.ok(!result.ok);
      return result.issues;
    };

    test('a value that is no map says what the map needs, with an example', () => {
      assert.deepEqual(issues('1m'), [
        {
          path: 'window',
          message:
            "must be a map with a 'type' (tumbling, hopping or session) and its options, e.g. { type: tumbling, size: 1m }; got the string '1m'",
        },
      ]);
    });

    test('a map of a known type reports that type’s problems only', () => {
      assert.deepEqual(issues({ type: 'hopping', size: '1m' }), [
        { path: 'window', message: "missing required option 'slide'" },
      ]);
      assert.deepEqual(issues({ type: 'tumbling', size: '1m', slide: '1m' }), [
        { path: 'window.slide', message: "unknown option 'slide'; known options: type, size", onKey: true },
      ]);
    });

    test('a misspelt or missing type is named with the choices', () => {
      assert.deepEqual(issues({ type: 'tumblin', size: '1m' }), [
        {
          path: 'window.type',
          message: "must be one of: tumbling, hopping, session — did you mean 'tumbling'?",
        },
      ]);
      assert.deepEqual(issues({ size: '1m' }), [
        { path: 'window', message: "missing required option 'type': one of tumbling, hopping, session" },
      ]);
    });
  });

  test('a union never repeats a description', () => {
    const schema = Type.Object({
      at: Type.Union([
        Type.Object({ a: Type.String() }, { additionalProperties: false }),
        Type.Object({ b: Type.String() }, { additionalProperties: false }),
      ]),
    });
    const result = validateConfig(schema, { at: 1 });
    assert.ok(!result.ok);
    assert.deepEqual(result.issues, [{ path: 'at', message: 'must be a map' }]);
  });

  test('formats are checked', () => {
    const result = validateConfig(Type.Object({ url: Type.String({ format: 'uri' }) }), { url: 'not a url' });
    assert.ok(!result.ok);
    assert.deepEqual(result.issues, [{ path: 'url', message: 'must be a valid uri' }]);
  });

  test('keys that are not plain names are quoted in paths', () => {
    const schema = Type.Object({ headers: Type.Record(Type.String(), Type.String()) });
    const result = validateConfig(schema, { headers: { 'x-api.key': 1 } });
    assert.ok(!result.ok);
    assert.deepEqual(result.issues, [{ path: 'headers["x-api.key"]', message: 'must be a string' }]);
  });
});

describe('secrets', () => {
  const schema = Type.Object({
    url: Type.String(),
    password: Type.Optional(Type.String({ secret: true })),
    sasl: Type.Optional(Type.Object({ user: Type.String(), token: Type.String({ secret: true }) })),
    brokers: Type.Optional(
      Type.Array(Type.Object({ host: Type.String(), key: Type.String({ secret: true }) })),
    ),
    headers: Type.Optional(Type.Record(Type.String(), Type.String({ secret: true }))),
  });

  test('secretPaths lists nested secret fields', () => {
    assert.deepEqual(secretPaths(schema), ['password', 'sasl.token', 'brokers[*].key', 'headers.*']);
  });

  test('redact replaces secret values and keeps the rest', () => {
    const config = {
      url: 'https://x',
      password: 'hunter2',
      sasl: { user: 'me', token: 't' },
      brokers: [{ host: 'a', key: 'k1' }],
      headers: { authorization: 'Bearer x' },
      extra: 1,
    };
    assert.deepEqual(redact(schema, config), {
      url: 'https://x',
      password: '***',
      sasl: { user: 'me', token: '***' },
      brokers: [{ host: 'a', key: '***' }],
      headers: { authorization: '***' },
      extra: 1,
    });
    assert.equal(config.password, 'hunter2');
  });

  test('redact leaves absent secrets absent', () => {
    assert.deepEqual(redact(schema, { url: 'u' }), { url: 'u' });
  });
});
