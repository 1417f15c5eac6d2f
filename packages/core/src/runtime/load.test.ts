/**
 * Loading TypeScript pipeline modules: errors that stop a module from loading point at the file,
 * line and column, and a pipeline in a CommonJS project (what `npm init` makes) says how to make it
 * an ES module.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { builtins } from '../builtins.ts';
import { SluiceError } from '../errors.ts';
import { Registry } from '../registry.ts';
import { Harness } from './engine-test-support.ts';
import { loadPipeline } from './load.ts';

const registry = new Registry([builtins]);
const h = new Harness();
afterEach(() => h.stopAll());

async function failsToLoad(name: string, text: string): Promise<{ err: SluiceError; file: string }> {
  const file = join(await h.dir(), name);
  await writeFile(file, text);
  let caught: unknown;
  await loadPipeline(file, registry).catch((err: unknown) => {
    caught = err;
  });
  assert.ok(caught instanceof SluiceError, `loading ${name} failed with a SluiceError: ${String(caught)}`);
  return { err: caught, file };
}

describe('loadPipeline of a TypeScript file', () => {
  test('a syntax error points at its line and column', async () => {
    const { err, file } = await failsToLoad(
      'pipeline.ts',
      "const size: string = '1m';\nconst x = foo(1, 2;\nexport default x;\n",
    );
    assert.equal(err.code, 'PIPELINE_LOAD');
    assert.deepEqual({ file: err.file, line: err.line, column: err.column }, { file, line: 2, column: 19 });
    assert.match(err.message, /^syntax error: Expected ',', got ';'$/);
  });

  test('syntax Node cannot strip says to use erasable syntax', async () => {
    const { err, file } = await failsToLoad('pipeline.ts', '\n\nenum Mode { a }\nexport default Mode;\n');
    assert.deepEqual({ file: err.file, line: err.line, column: err.column }, { file, line: 3, column: 1 });
    assert.match(err.message, /enum is not supported in strip-only mode/);
    assert.match(err.message, /erasable syntax only .*no enum, namespace or parameter properties/);
  });

  test('a syntax error in a module the pipeline imports names that module', async () => {
    const dir = await h.dir();
    await writeFile(join(dir, 'helper.ts'), 'export const x = ;\n');
    const file = join(dir, 'pipeline.ts');
    await writeFile(file, "import { x } from './helper.ts';\nexport default x;\n");
    const err = await loadPipeline(file, registry).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof SluiceError);
    assert.deepEqual(
      { file: err.file, line: err.line, column: err.column },
      { file: join(dir, 'helper.ts'), line: 1, column: 18 },
    );
  });

  test('a .ts pipeline in a "type": "commonjs" project fails with how to make it an ES module', async () => {
    const dir = await h.dir();
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'p', type: 'commonjs' }));
    const file = join(dir, 'pipeline.ts');
    await writeFile(file, "import { pipeline } from '@sluice/core';\nexport default pipeline('p');\n");
    await assert.rejects(loadPipeline(file, registry), (err) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'PIPELINE_LOAD');
      assert.match(err.message, /Cannot use import statement outside a module/);
      assert.match(err.message, /set "type": "module" in the package\.json of its project, or name it \.mts/);
      return true;
    });
  });
});
