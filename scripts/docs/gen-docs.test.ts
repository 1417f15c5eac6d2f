/**
 * `npm run docs:check` fails when a generated file is stale, and `npm run docs:gen` repairs it:
 * run on a scratch copy of the generated folders.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { referenceOutputs } from './reference-pages.ts';
import { staleFiles } from './stale.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(root, 'scripts/gen-docs.ts');
const gen = (scratch: string, ...args: string[]) =>
  spawnSync(process.execPath, [script, ...args, '--root', scratch], { encoding: 'utf8', timeout: 60_000 });

test('docs:check names every stale, missing and stray file and fails; docs:gen rewrites what it generates', (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-docs-'));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));
  for (const folder of ['docs/reference', 'schemas'])
    cpSync(join(root, folder), join(scratch, folder), { recursive: true });
  assert.deepEqual(staleFiles(scratch, referenceOutputs()), [], 'the checked-in files are up to date');

  const page = join(scratch, 'docs/reference/pipeline.md');
  writeFileSync(page, readFileSync(page, 'utf8').replace('| `batch_size` |', '| `batch_sise` |'));
  unlinkSync(join(scratch, 'docs/reference/expressions.md'));
  writeFileSync(join(scratch, 'docs/reference/windows.md'), '# a page nothing generates\n');

  const check = gen(scratch, '--check');
  assert.equal(check.status, 1, check.stderr);
  assert.match(check.stderr, /stale: docs\/reference\/pipeline\.md \(differs; run `npm run docs:gen`/);
  assert.match(check.stderr, /stale: docs\/reference\/expressions\.md \(missing;/);
  assert.match(check.stderr, /stale: docs\/reference\/windows\.md \(not generated; nothing generates it/);
  assert.equal(existsSync(join(scratch, 'docs/reference/expressions.md')), false, '--check writes nothing');

  const write = gen(scratch);
  assert.equal(write.status, 1, 'a stray file still fails');
  assert.match(write.stdout, /wrote docs\/reference\/pipeline\.md/);
  assert.match(write.stdout, /wrote docs\/reference\/expressions\.md/);
  assert.ok(existsSync(join(scratch, 'docs/reference/windows.md')), 'docs:gen deletes nothing');

  unlinkSync(join(scratch, 'docs/reference/windows.md'));
  const again = gen(scratch, '--check');
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /up to date/);
});
