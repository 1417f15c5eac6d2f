/**
 * `sluice validate` and `sluice describe` end to end: errors name the file, line and column of the
 * offending node and the error code; the component reference is printed from the specs.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Cli, runCli, tempDir } from './cli-test-support.ts';

/** A pipeline file: one file source, `steps`, and a file sink with `sinkOptions` appended. */
function pipeline(steps: string, sinkOptions = ''): string {
  return `name: checks
sources:
  input:
    type: file
    path: ./input.jsonl
    event_time: { field: ts }
steps:
${steps}
sinks:
  out: { type: file, path: ./out/results.jsonl${sinkOptions} }
`;
}

const goodStep = `  - id: doubled
    type: map
    fields: { twice: amount * 2 }`;

/** `file:line:column` of the first occurrence of `needle` in `text` (1-based). */
function locationOf(file: string, text: string, needle: string): string {
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes(needle));
  assert.ok(line >= 0, `'${needle}' is in the pipeline`);
  return `${file}:${line + 1}:${lines[line].indexOf(needle) + 1}`;
}

async function writePipeline(t: TestContext, text: string): Promise<{ dir: string; file: string }> {
  const dir = await tempDir(t, 'sluice-validate-');
  const file = join(dir, 'pipeline.yaml');
  await writeFile(file, text);
  return { dir, file };
}

const broken = [
  {
    name: 'an unknown step type',
    text: pipeline(`  - id: doubled
    type: mapp
    fields: { twice: amount * 2 }`),
    at: 'mapp',
    code: 'PLAN_UNKNOWN_TYPE',
    message: /unknown step type 'mapp' — did you mean 'map'\?/,
  },
  {
    name: 'bad expression syntax in a map field',
    text: pipeline(`  - id: doubled
    type: map
    fields: { twice: "amount * * 2" }`),
    at: '"amount * * 2"',
    code: 'EXPR_SYNTAX',
    message: /step 'doubled', fields\.twice: at column 10: expected an expression, found '\*'/,
  },
  {
    name: 'an unknown option with a typo',
    text: pipeline(goodStep, ', formt: json'),
    at: 'formt',
    code: 'CONFIG_INVALID',
    message: /unknown option 'formt' — did you mean 'format'\?/,
  },
  {
    name: 'an input that is no source or step',
    text: pipeline(`  - id: doubled
    type: map
    input: inptu
    fields: { twice: amount * 2 }`),
    at: 'inptu',
    code: 'PLAN_MISSING_INPUT',
    message: /no source or step has id 'inptu'/,
  },
  {
    name: 'a window that is not a map',
    text: pipeline(`  - id: per-minute
    type: aggregate
    window: 1m
    fields: { n: count(*) }`),
    at: '1m',
    code: 'CONFIG_INVALID',
    message:
      /steps\[0\]\.window: must be a map with a 'type' \(tumbling, hopping, session or cumulative\) and its options, e\.g\. \{ type: tumbling, size: 1m \}; got the string '1m'/,
  },
  {
    name: 'a window size that is no duration',
    text: pipeline(`  - id: per-minute
    type: aggregate
    window: { type: tumbling, size: 1 minute }
    fields: { n: count(*) }`),
    at: '1 minute',
    code: 'CONFIG_INVALID',
    message: /step 'per-minute', window\.size: '1 minute' is not a duration; write a number with a unit/,
  },
  {
    name: 'a window size of zero, its path said once',
    text: pipeline(`  - id: per-minute
    type: aggregate
    window: { type: tumbling, size: 0s }
    fields: { n: count(*) }`),
    at: '0s',
    code: 'CONFIG_INVALID',
    message: /step 'per-minute', window\.size: must be a positive duration such as 1m or 500ms, got 0 ms \(/,
  },
];

describe('sluice validate', { concurrency: 2 }, () => {
  for (const c of broken) {
    it(`points to ${c.name}: file:line:column and the error code, exit 1`, async (t) => {
      const { dir, file } = await writePipeline(t, c.text);
      const r = await runCli(['validate', 'pipeline.yaml'], dir);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.ok(
        r.stderr.startsWith(`sluice: ${locationOf(file, c.text, c.at)}: `),
        `stderr starts with the location of '${c.at}':\n${r.stderr}`,
      );
      assert.ok(r.stderr.includes(`(${c.code})`), `stderr names ${c.code}:\n${r.stderr}`);
      assert.match(r.stderr, c.message);
    });
  }

  it('accepts a good pipeline: exit 0 and ok', async (t) => {
    const { dir } = await writePipeline(t, pipeline(goodStep));
    const r = await runCli(['validate', 'pipeline.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(
      r.stdout,
      /^pipeline\.yaml: ok — pipeline 'checks': 1 source\(s\), 1 step\(s\), 1 sink\(s\)\n$/,
    );
  });

  it('reports YAML syntax errors with their position', async (t) => {
    const text = 'name: checks\nsources: [\n';
    const { dir, file } = await writePipeline(t, text);
    const r = await runCli(['validate', 'pipeline.yaml'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^sluice: ${file}:3:1: .*\\(CONFIG_PARSE\\)`));
  });

  it('reports a missing pipeline file, exit 1', async (t) => {
    const dir = await tempDir(t);
    const r = await runCli(['validate', 'nope.yaml'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope\.yaml.*cannot read the pipeline file.*\(CONFIG_PARSE\)/);
  });

  it('run: a missing input file is reported at its path option, exit 1', async (t) => {
    const text = pipeline(goodStep);
    const { dir, file } = await writePipeline(t, text);
    const r = await runCli(['run', 'pipeline.yaml'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`sluice: ${locationOf(file, text, './input.jsonl')}: `), r.stderr);
    assert.match(r.stderr, /no file matches '\.\/input\.jsonl'.*\(CONFIG_INVALID\)/);
  });

  it('usage errors exit 2', async (t) => {
    const dir = await tempDir(t);
    const [missing, unknown] = await Promise.all([runCli(['validate'], dir), runCli(['frobnicate'], dir)]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing required argument 'pipeline'/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  });
});

describe('sluice describe', { concurrency: 2 }, () => {
  it('lists sources, steps and sinks', async (t) => {
    const r = await runCli(['describe'], await tempDir(t));
    assert.equal(r.code, 0, r.stderr);
    const section = (title: string, next: string) => {
      const start = r.stdout.indexOf(`${title}:\n`);
      assert.ok(start >= 0, `a ${title} section:\n${r.stdout}`);
      const end = r.stdout.indexOf(next, start);
      return r.stdout.slice(start, end < 0 ? undefined : end);
    };
    const typesIn = (text: string) => [...text.matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]);
    const sources = typesIn(section('Sources', 'Steps:'));
    const steps = typesIn(section('Steps', 'Sinks:'));
    const sinks = typesIn(section('Sinks', '\n\n'));
    for (const type of ['file', 'generate', 'stdin', 'http_server']) assert.ok(sources.includes(type), type);
    for (const type of ['validate', 'map', 'filter', 'aggregate', 'union', 'key_by', 'dedupe'])
      assert.ok(steps.includes(type), type);
    for (const type of ['file', 'stdout', 'http']) assert.ok(sinks.includes(type), type);
    assert.ok(!steps.includes('file') && !sources.includes('map'), 'each type in its own section');
    assert.match(r.stdout, /sluice describe <type>/);
  });

  it('prints the options of file (source and sink) with defaults', async (t) => {
    const r = await runCli(['describe', 'file'], await tempDir(t));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /## `file` \(source\)/);
    assert.match(r.stdout, /## `file` \(sink\)/);
    assert.match(r.stdout, /\| `path` \| string \| yes \|/);
    assert.match(r.stdout, /\| `mode` \| "once" \\\| "follow" \| {2}\| `"once"` \|/);
    assert.match(r.stdout, /\| `format` \|/);
    assert.match(r.stdout, /`roll`/);
  });

  it('ends quietly when its reader has gone (`sluice describe file | head`)', async (t) => {
    const cli = new Cli(['describe', 'file'], { cwd: await tempDir(t) });
    cli.child.stdout!.destroy();
    const r = await cli.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('rejects an unknown type, exit 1, suggesting the closest', async (t) => {
    const dir = await tempDir(t);
    const [typo, far] = await Promise.all([
      runCli(['describe', 'agregate'], dir),
      runCli(['describe', 'zzz'], dir),
    ]);
    assert.equal(typo.code, 1);
    assert.equal(typo.stdout, '');
    assert.equal(
      typo.stderr,
      "sluice: no component 'agregate' — did you mean 'aggregate'? Run `sluice describe` for the list\n",
    );
    assert.equal(far.code, 1);
    assert.match(far.stderr, /no component 'zzz'; run `sluice describe` for the list/);
  });
});
