/**
 * The repository's packages, as the root package.json's `workspaces` names them (a trailing `/*`
 * stands for every folder under it with a package.json): the one list the packaging tests use,
 * so a new package cannot be left out of them.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The workspace folders of the repository at `root`, relative to it, in the order listed. */
export function workspaceDirs(root: string): string[] {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  const dirs: string[] = [];
  for (const entry of manifest.workspaces) {
    if (!entry.endsWith('/*')) {
      dirs.push(entry);
      continue;
    }
    const parent = entry.slice(0, -2);
    for (const name of readdirSync(join(root, parent)).sort())
      if (existsSync(join(root, parent, name, 'package.json'))) dirs.push(`${parent}/${name}`);
  }
  return dirs;
}
