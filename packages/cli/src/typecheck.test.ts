/**
 * `sluice validate pipeline.ts` type-checks the pipeline with its project's TypeScript compiler:
 * a misspelt field is an error at file:line:column, only the pipeline and what it imports are
 * checked, and a project without a compiler is told what to install.
 */

import assert from 'node:assert/strict';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, test } from 'node:test';
import { SluiceError } from '@sluice/core';
import { Cli, repoRoot, runCli, tempDir, waitUntil } from './cli-test-support.ts';
import { findCompiler, noCompilerError, parseDiagnostics } from './typecheck.ts';

const pipelineTs = (field: string) => `import { fileSink, generate, pipeline } from '@sluice/core';

interface Order {
  order_id: string;
  region: string;
  amount: number;
}

export default pipeline('typed')
  .from('orders', generate<Order>({ template: 'orders', count: 10 }))
  .map('upper', (o) => ({ ...o, region: o.${field}.toUpperCase() }))
  .to('out', fileSink({ path: './out/orders.jsonl' }));
`;

/** A project folder that sees the repository's packages (as an installed project would). */
async function project(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t, 'sluice-typecheck-');
  await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** tsc takes seconds of CPU on a loaded machine: a generous limit, not a timing assertion. */
const limitMs = 300_000;

describe('sluice validate of a TypeScript pipeline', { concurrency: 1 }, () => {
  it('reports a misspelt field at file:line:column (no tsconfig.json: defaults), exit 1', async (t) => {
    const dir = await project(t);
    const file = join(dir, 'pipeline.ts');
    await writeFile(file, pipelineTs('regoin'));
    const r = await runCli(['validate', 'pipeline.ts'], dir, limitMs);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      new RegExp(
        `^sluice: ${file}:11:43: Property 'regoin' does not exist on type 'Order'\\. Did you mean 'region'\\? \\[TS2551\\] \\(PLAN_TYPE_ERROR\\)\\n`,
      ),
    );
    assert.deepEqual(
      (await readdir(dir)).sort(),
      ['node_modules', 'pipeline.ts'],
      'no temporary file is left',
    );

    const skipped = await runCli(['validate', '--no-type-check', 'pipeline.ts'], dir);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stdout, /^pipeline\.ts: ok — .*\(not type-checked: --no-type-check\)\n$/);
  });

  it('checks only the pipeline and its imports, under the project tsconfig.json', async (t) => {
    const dir = await project(t);
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: 'es2024',
          lib: ['es2024'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          allowImportingTsExtensions: true,
          types: ['node'],
          skipLibCheck: true,
          noEmit: true,
          incremental: true,
        },
        include: ['**/*.ts'],
      }),
    );
    await mkdir(join(dir, 'src'));
    await writeFile(join(dir, 'src/unrelated.ts'), 'export const broken: number = "not a number";\n');
    await writeFile(join(dir, 'pipeline.ts'), pipelineTs('region'));
    const r = await runCli(['validate', 'pipeline.ts'], dir, limitMs);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^pipeline\.ts: ok — pipeline 'typed': 1 source\(s\), 1 step\(s\), 1 sink\(s\); type-checked with TypeScript \d+\.\d+\.\d+\n$/,
    );
    assert.deepEqual(
      (await readdir(dir)).sort(),
      ['node_modules', 'package.json', 'pipeline.ts', 'src', 'tsconfig.json'],
      'no temporary config or build info is left',
    );
  });
});

test('Ctrl-C during the check leaves no temporary config behind: exit 130', async (t) => {
  const dir = await project(t);
  await writeFile(join(dir, 'pipeline.ts'), pipelineTs('region'));
  const cli = new Cli(['validate', 'pipeline.ts'], { cwd: dir, limitMs });
  const temporary = async () => (await readdir(dir)).some((name) => name.startsWith('.sluice-typecheck-'));
  await waitUntil(temporary, limitMs, 'the temporary config', cli);
  cli.kill('SIGINT');
  const r = await cli.exited;
  assert.equal(r.code, 130, r.stderr);
  assert.equal(await temporary(), false);
});

describe('finding a compiler', () => {
  test('the project’s own typescript comes first', () => {
    const found = findCompiler(repoRoot, []);
    assert.ok(found);
    assert.equal(found.dir, join(repoRoot, 'node_modules/typescript'));
    assert.match(found.version, /^\d+\.\d+\.\d+/);
  });

  test('none installed: undefined, and the error says what to install or how to skip', async (t) => {
    const dir = await tempDir(t);
    assert.equal(findCompiler(dir, []), undefined);
    const err = noCompilerError(join(dir, 'pipeline.ts'));
    assert.equal(err.code, 'PIPELINE_LOAD');
    assert.equal(err.file, join(dir, 'pipeline.ts'));
    assert.match(err.message, /no TypeScript compiler found/);
    assert.match(err.message, /npm install --save-dev typescript/);
    assert.match(err.message, /sluice validate --no-type-check/);
  });
});

test('tsc diagnostics become errors at file:line:column', () => {
  const out = [
    "pipeline.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.",
    "lib/a.ts(10,1): error TS2345: Argument of type '{ a: string; }' is not assignable to parameter of type 'B'.",
    "  Property 'b' is missing in type '{ a: string; }' but required in type 'B'.",
    "error TS5023: Unknown compiler option 'foo'.",
    '',
  ].join('\n');
  const errors = parseDiagnostics(out, '/p');
  assert.ok(errors.every((e) => e instanceof SluiceError && e.code === 'PLAN_TYPE_ERROR'));
  assert.deepEqual(
    errors.map((e) => [e.file, e.line, e.column, e.message]),
    [
      ['/p/pipeline.ts', 3, 7, "Type 'string' is not assignable to type 'number'. [TS2322]"],
      [
        '/p/lib/a.ts',
        10,
        1,
        "Argument of type '{ a: string; }' is not assignable to parameter of type 'B'. Property 'b' is missing in type '{ a: string; }' but required in type 'B'. [TS2345]",
      ],
      [undefined, undefined, undefined, "Unknown compiler option 'foo'. [TS5023]"],
    ],
  );
});
