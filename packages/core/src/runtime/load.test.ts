/**
 * Loading TypeScript pipelines in a user's own project: `npm init` makes it a CommonJS package,
 * where Node cannot load a pipeline.ts written with `import`/`export`; the error says how to fix it.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { builtins } from '../builtins.ts';
import { SluiceError } from '../errors.ts';
import { Registry } from '../registry.ts';
import { loadPipeline } from './load.ts';

test('a .ts pipeline in a "type": "commonjs" project fails with how to make it an ES module', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-load-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', type: 'commonjs' }));
    writeFileSync(
      join(dir, 'pipeline.ts'),
      "import { pipeline } from '@sluice/core';\nexport default pipeline('p');\n",
    );
    await assert.rejects(loadPipeline(join(dir, 'pipeline.ts'), new Registry([builtins])), (err) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'PIPELINE_LOAD');
      assert.match(err.message, /Cannot use import statement outside a module/);
      assert.match(err.message, /set "type": "module" in the package\.json of its project, or name it \.mts/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
