/**
 * Compares generated files with the checked-in ones.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A checked-in file that does not match the generator's output. */
export interface StaleFile {
  readonly path: string;
  readonly reason: 'differs' | 'missing' | 'not generated';
}

/** Folders whose every file is generated: a file there that the generator does not write is stale. */
export const generatedFolders = ['docs/reference', 'schemas'];

/**
 * The files under `root` that differ from `outputs` ([relative path, content]), are missing, or
 * sit in a generated folder without being generated (a page whose component was removed).
 */
export function staleFiles(root: string, outputs: readonly (readonly [string, string])[]): StaleFile[] {
  const out: StaleFile[] = [];
  for (const [rel, content] of outputs) {
    let current: string | undefined;
    try {
      current = readFileSync(join(root, rel), 'utf8');
    } catch {
      current = undefined;
    }
    if (current === undefined) out.push({ path: rel, reason: 'missing' });
    else if (current !== content) out.push({ path: rel, reason: 'differs' });
  }
  const generated = new Set(outputs.map(([rel]) => rel));
  for (const folder of generatedFolders) {
    let names: string[];
    try {
      names = readdirSync(join(root, folder));
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const rel = `${folder}/${name}`;
      if (!generated.has(rel)) out.push({ path: rel, reason: 'not generated' });
    }
  }
  return out;
}
