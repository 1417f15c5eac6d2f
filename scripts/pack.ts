/**
 * npm's `prepack` and `postpack` of every workspace package, run in the package's folder by
 * `npm pack`, `npm pack --workspaces` and `npm publish`:
 *
 *   node scripts/pack.ts prepack    # compile with tsc -b, rewrite package.json for publishing
 *   node scripts/pack.ts postpack   # put the repository's package.json back
 *
 * `prepack` builds the package (and, through project references, what it depends on)
 * incrementally, deletes compiled files whose source is gone, keeps the repository's
 * package.json as `package.json.prepack` and writes the published one (publish-manifest.ts).
 * `postpack` moves the kept file back. A `package.json.prepack` left by an interrupted pack is
 * restored before anything else, so the rewrite never applies twice.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isUnpublishedSource, type Manifest, publishManifest } from './publish-manifest.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** Restores the repository's package.json if a pack left the published one in its place. */
function restore(dir: string): void {
  const kept = join(dir, 'package.json.prepack');
  if (existsSync(kept)) renameSync(kept, join(dir, 'package.json'));
}

/** Every file under `dir`, as paths relative to it with `/` separators. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'));
}

/**
 * Deletes what `tsc` wrote for sources that no longer exist or are not published (a build
 * never deletes its old outputs), so that the tarball holds only the current build.
 */
function pruneDist(dir: string): void {
  for (const file of filesUnder(join(dir, 'dist'))) {
    const stem = /^(.+?)(\.d\.ts|\.js)$/.exec(file);
    if (!stem) continue;
    const source = `src/${stem[1]}.ts`;
    if (!existsSync(join(dir, source)) || isUnpublishedSource(source)) rmSync(join(dir, 'dist', file));
  }
}

function prepack(dir: string): void {
  restore(dir);
  const build = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], {
    cwd: dir,
    stdio: 'inherit',
  });
  if (build.status !== 0) throw new Error(`tsc -b failed in ${dir} (exit ${build.status ?? build.signal})`);
  pruneDist(dir);
  const text = readFileSync(join(dir, 'package.json'), 'utf8');
  const published = publishManifest(JSON.parse(text) as Manifest, (path) => existsSync(join(dir, path)));
  writeFileSync(join(dir, 'package.json.prepack'), text);
  // Renamed into place, so that a process resolving the package meanwhile reads either manifest whole.
  writeFileSync(join(dir, 'package.json.published'), `${JSON.stringify(published, null, 2)}\n`);
  renameSync(join(dir, 'package.json.published'), join(dir, 'package.json'));
}

const [command] = process.argv.slice(2);
const dir = process.cwd();
if (command === 'prepack') prepack(dir);
else if (command === 'postpack') restore(dir);
else {
  process.stderr.write('usage: node scripts/pack.ts prepack|postpack (in a workspace package folder)\n');
  process.exitCode = 2;
}
