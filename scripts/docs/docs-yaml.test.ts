/**
 * Every YAML block in README.md and docs/ (generated pages included) is what it claims to be: a
 * pipeline or a component's options that the editor schema, the loader and `sluice validate`
 * accept, a fragment that is YAML, or a counter-example that is refused.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defineTableFunction } from '@sluice/core';
import { PipelineChecker } from './check-pipeline.ts';
import { allYamlBlocks, markdownFiles, yamlBlocks } from './markdown-yaml.ts';
import { registry } from './reference-pages.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const schema = JSON.parse(readFileSync(join(root, 'schemas/pipeline.schema.json'), 'utf8'));
const checker = new PipelineChecker(registry, schema);

// The table_function step's reference example calls split_words, which a program using the step
// defines from TypeScript before it loads the pipeline; so does this check.
defineTableFunction({
  name: 'split_words',
  columns: ['word', 'position'],
  params: 1,
  impl: (text) =>
    String(text ?? '')
      .split(/\s+/)
      .map((word, position) => ({ word, position })),
});

describe('YAML blocks in the docs', () => {
  const blocks = allYamlBlocks(root);

  test('are found in the README and in the generated pages', () => {
    const files = new Set(blocks.map((b) => b.file));
    for (const file of ['README.md', 'docs/reference/components.md', 'docs/reference/pipeline.md'])
      assert.ok(files.has(file), `no YAML block found in ${file}`);
    assert.ok(markdownFiles(root).includes('docs/reference/expressions.md'));
  });

  for (const block of blocks) {
    const what =
      block.marker ?? (block.component ? `${block.component.type} ${block.component.kind}` : 'pipeline');
    test(`${block.file}:${block.line} (${what})`, async () => {
      const problems = await checker.checkBlock(block, join(root, dirname(block.file)));
      assert.deepEqual(problems, [], `${block.file}:${block.line}:\n${block.text}`);
    });
  }
});

describe('the docs check', () => {
  const check = (markdown: string) =>
    Promise.all(yamlBlocks(markdown, 'x.md').map((b) => checker.checkBlock(b, root)));
  const joined = async (markdown: string) => (await check(markdown)).map((problems) => problems.join('\n'));

  test('refuses a misspelt option, a wrong type, a broken expression and a non-pipeline', async () => {
    const pipeline = (steps: string) =>
      `\`\`\`yaml\nname: p\nsources: { in: { type: generate, template: orders } }\nsteps:\n${steps}\nsinks: { out: { type: discard } }\n\`\`\`\n`;
    const [misspelt, wrongType, badExpression, flowComma, notPipeline] = await joined(
      [
        pipeline('  - { id: f, type: filter, wher: x > 1 }'),
        pipeline(
          '  - { id: a, type: aggregate, window: { type: tumbling, size: 1m }, fields: { n: count(*) }, on_late: 3 }',
        ),
        pipeline("  - { id: f, type: filter, where: region = 'eu }"),
        pipeline('  - { id: m, type: map, fields: { t: round(sum(x), 1) } }'),
        '```yaml\nwhere: x > 1\n```\n',
      ].join('\n'),
    );
    assert.match(misspelt, /editor schema: \/steps\/0 must NOT have additional properties/);
    assert.match(
      wrongType,
      /editor schema: \/steps\/0\/on_late must be equal to one of the allowed values|on_late/,
    );
    assert.match(badExpression, /^validate: .*unterminated string literal/);
    assert.match(flowComma, /editor schema: \/steps\/0\/fields\/1\) must be string/);
    assert.match(notPipeline, /editor schema: \/ must have required property 'name'/);
  });

  test('checks a component block as the component its heading names', async () => {
    const [ok, wrongKind, misspelt] = await check(
      [
        '## `file` (sink)\n\n```yaml\ntype: file\npath: ./out.jsonl\nformat: csv\n```\n',
        '## `file` (source)\n\n```yaml\ntype: file\npath: ./out.jsonl\nroll: { max_bytes: 10 }\n```\n',
        '## `filter` (step)\n\n```yaml\ntype: filter\nwhere: x > 1\ninvert: true\n```\n',
      ].join('\n'),
    );
    assert.deepEqual(ok, []);
    assert.ok(wrongKind.length > 0, 'a sink option under a source heading is refused');
    assert.ok(
      misspelt.some((p) => p.includes('invert')),
      misspelt.join('\n'),
    );
  });

  test('holds markers to their word: a fragment must be YAML, a counter-example must be refused', async () => {
    const [[fragment], [brokenFragment], [counter], [validCounter]] = await check(
      [
        '<!-- yaml: fragment -->\n```yaml\nwhere: x > 1\n```\n',
        '<!-- yaml: fragment -->\n```yaml\nwhere: [x\n```\n',
        "<!-- yaml: counter-example -->\n```yaml\ntype: filter\nwhere: 'eu' = region\n```\n",
        '<!-- yaml: counter-example -->\n```yaml\ntype: filter\nwhere: x > 1\n```\n',
      ].join('\n'),
    );
    assert.equal(fragment, undefined);
    assert.match(brokenFragment, /^fragment is not YAML/);
    assert.equal(counter, undefined);
    assert.equal(validCounter, 'marked counter-example but valid');
    assert.throws(() => yamlBlocks('<!-- yaml: pipline -->\n```yaml\na: 1\n```\n', 'x.md'), /unknown marker/);
  });
});
