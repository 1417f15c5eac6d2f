/**
 * Generates the reference pages and the pipeline JSON Schema (scripts/docs/reference-pages.ts).
 * With `--check`, writes nothing and exits 1 when a checked-in file is stale: different, missing,
 * or left in a generated folder (docs/reference, schemas) without being generated — such a file
 * fails the plain run too, which never deletes anything.
 *
 *   npm run docs:gen     # rewrite
 *   npm run docs:check   # CI: exit 1 when anything differs
 *
 * `--root <dir>` works on another copy of the repository (the tests use it).
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceOutputs } from './docs/reference-pages.ts';
import { staleFiles } from './docs/stale.ts';

const args = process.argv.slice(2);
const check = args.includes('--check');
const rootAt = args.indexOf('--root');
const root = rootAt >= 0 ? resolve(args[rootAt + 1]) : join(dirname(fileURLToPath(import.meta.url)), '..');

const outputs = referenceOutputs();
const contents = new Map(outputs);
let unfixed = 0;
for (const s of staleFiles(root, outputs)) {
  const content = contents.get(s.path);
  if (check || content === undefined) {
    const fix =
      content === undefined
        ? 'nothing generates it: delete it, or move it out of the generated folder'
        : 'run `npm run docs:gen` and commit the result';
    process.stderr.write(`stale: ${s.path} (${s.reason}; ${fix})\n`);
    unfixed++;
  } else {
    const file = join(root, s.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    process.stdout.write(`wrote ${s.path}\n`);
  }
}
if (unfixed > 0) process.exit(1);
if (check) process.stdout.write('docs: reference pages and schema are up to date\n');
