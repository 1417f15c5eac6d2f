import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtins, Registry } from '@sluice/core';
import { configFromOptions } from './options.ts';

const registry = new Registry([builtins]);
const at = (key: string, value: string | number | boolean) => ({ key, value, start: 0 });

test("WITH values written as strings become the booleans and numbers the spec's schema wants", () => {
  const { config, placed } = configFromOptions(
    [
      at('path', './in.csv'),
      at('format', 'csv'),
      at('header', 'false'),
      at('max_depth', '12'),
      at('delimiter', ';'),
    ],
    registry.source('file')?.config,
  );
  assert.deepEqual(config, { path: './in.csv', format: 'csv', header: false, max_depth: 12, delimiter: ';' });
  assert.deepEqual(
    placed.map((p) => p.path),
    ['path', 'format', 'header', 'max_depth', 'delimiter'],
  );
});

test('a dotted key sets a nested option; a value the schema does not take stays as written for the spec to refuse', () => {
  const { config } = configFromOptions(
    [at('event_time.field', 'ts'), at('header', 'perhaps'), at('unknown', '1')],
    registry.source('file')?.config,
  );
  assert.deepEqual(config, { event_time: { field: 'ts' }, header: 'perhaps', unknown: '1' });
});

test('without a schema (an unknown connector) values stay as written', () => {
  assert.deepEqual(configFromOptions([at('a', 'true')], undefined).config, { a: 'true' });
});
