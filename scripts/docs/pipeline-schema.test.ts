/**
 * schemas/pipeline.schema.json, the file editors load, checked with the validator of the draft it
 * declares: it is what the generator writes, it accepts every example pipeline, and it accepts or
 * refuses a file exactly when the YAML loader does. (Pipelines in the docs: docs-yaml.test.ts.)
 */

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parsePipelineYaml } from '@sluice/core';
import { parse } from 'yaml';
import { editorValidator, PipelineChecker } from './check-pipeline.ts';
import { referenceOutputs, registry } from './reference-pages.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const schemaText = readFileSync(join(root, 'schemas/pipeline.schema.json'), 'utf8');
const schema = JSON.parse(schemaText);
const editor = editorValidator(schema);
const quickstart = readFileSync(join(root, 'examples/quickstart/pipeline.yaml'), 'utf8');

const editorAccepts = (text: string) => editor(parse(text));
const loaderAccepts = (text: string) => {
  try {
    parsePipelineYaml(text, join(root, 'examples/quickstart/pipeline.yaml'), { registry, env: {} });
    return true;
  } catch {
    return false;
  }
};

describe('schemas/pipeline.schema.json', () => {
  test('is what the generator writes, for draft-07 (what editors support)', () => {
    const generated = referenceOutputs().find(([path]) => path === 'schemas/pipeline.schema.json');
    assert.equal(schemaText, generated?.[1], 'stale: run `npm run docs:gen`');
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  });

  const examples = readdirSync(join(root, 'examples'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, 'examples', d.name, 'pipeline.yaml')))
    .map((d) => `examples/${d.name}/pipeline.yaml`);

  test('there are example pipelines to check', () => {
    assert.ok(examples.includes('examples/quickstart/pipeline.yaml'), examples.join(', '));
  });

  for (const file of examples) {
    test(`accepts ${file}, which loads and validates`, async () => {
      const text = readFileSync(join(root, file), 'utf8');
      assert.equal(editorAccepts(text), true, JSON.stringify(editor.errors, null, 2));
      assert.deepEqual(
        await new PipelineChecker(registry, schema).check(text, join(root, dirname(file))),
        [],
      );
    });
  }

  test('requires no option that has a default (a default Ajv never applies is a spec mistake)', () => {
    const contradictions: string[] = [];
    const visit = (node: unknown, path: string) => {
      if (typeof node !== 'object' || node === null) return;
      const { required, properties } = node as { required?: unknown; properties?: { [k: string]: unknown } };
      if (Array.isArray(required) && properties) {
        for (const name of required) {
          const property = properties[name] as { default?: unknown } | undefined;
          if (property?.default !== undefined) contradictions.push(`${path}/properties/${name}`);
        }
      }
      for (const [key, value] of Object.entries(node)) visit(value, `${path}/${key}`);
    };
    visit(schema, '#');
    assert.deepEqual(
      contradictions,
      [],
      'these options have a default the loader never applies (inside anyOf/oneOf): move the default out of the union, or drop it',
    );
  });

  /** Variants of the quickstart, each a mistake a user makes, or a valid change. */
  const variants: [name: string, valid: boolean, text: string][] = [
    ['the quickstart', true, quickstart],
    [
      'every defaulted option left out',
      true,
      `name: q
sources: { g: { type: generate, template: orders }, f: { type: file, path: ./in.jsonl } }
steps:
  - { id: u, type: union, input: [g, f] }
  - { id: m, type: map, fields: { x: upper(region) } }
  - { id: a, type: aggregate, window: { type: session, gap: 1m }, fields: { n: count(*) } }
sinks: { out: { type: file, path: ./out.jsonl }, h: { type: http, url: "http://127.0.0.1:1/x", input: m } }
dead_letter: { type: stdout }
`,
    ],
    ['a misspelt option', false, quickstart.replace('format: json', 'formt: json')],
    ['a misspelt step option', false, quickstart.replace('key: [region]', 'keys: [region]')],
    ['a number where text belongs', false, quickstart.replace('path: ./out/late.jsonl', 'path: 42')],
    ['text where a number belongs', false, quickstart.replace('count: 200000', 'count: many')],
    ['a value outside its enum', false, quickstart.replace('format: json', 'format: xml')],
    ['an unknown window type', false, quickstart.replace('type: tumbling', 'type: sliding')],
    ['a window option of another form', false, quickstart.replace('size: 1m }', 'size: 1m, gap: 1m }')],
    [
      'a missing required option',
      false,
      quickstart.replace('results: { type: file, path: ./out/per-region.jsonl }', 'results: { type: file }'),
    ],
    ['an unknown component type', false, quickstart.replace('type: validate', 'type: validator')],
    ['an unknown top-level key', false, `${quickstart}sink: {}\n`],
    ['a bad settings value', false, quickstart.replace('interval: 2s', 'interval: soon')],
    [
      'event_time with neither field nor expression (the source’s own times)',
      true,
      quickstart.replace(
        '{ field: ts, max_out_of_orderness: 5s }\n  manual',
        '{ max_out_of_orderness: 5s }\n  manual',
      ),
    ],
    [
      'event_time with both field and expression',
      false,
      quickstart.replace(
        '{ field: ts, max_out_of_orderness: 5s }\n  manual',
        '{ field: ts, expression: ts, max_out_of_orderness: 5s }\n  manual',
      ),
    ],
    ['a step without id', false, quickstart.replace('id: orders\n    type: union', 'type: union')],
  ];

  for (const [name, valid, text] of variants) {
    test(`${valid ? 'accepts' : 'refuses'} ${name}, as the loader does`, () => {
      if (name !== 'the quickstart') assert.notEqual(text, quickstart, 'the variant changes nothing');
      assert.equal(editorAccepts(text), valid, JSON.stringify(editor.errors, null, 2));
      assert.equal(loaderAccepts(text), valid);
    });
  }
});
