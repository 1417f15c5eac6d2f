/**
 * Creating the folder of a user-given path, checked level by level.
 *
 * Node's `mkdir(dir, { recursive: true })` treats ENOENT as "the parent is missing" and retries
 * the parent, which exists, then the child again: on a file system that answers ENOENT to
 * every new entry (Linux's /proc) it spins forever at full CPU. Here each missing level is
 * created on its own under a parent known to exist, so every refusal becomes an error that says
 * which folder, why, and what to do.
 */

import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SluiceError } from '../errors.ts';

/** The option a folder comes from, for the error: its config path and the component id. */
export interface DirOwner {
  /** Config path of the option, e.g. `path` (in the component's config) or `settings.checkpoint.dir`. */
  readonly path: string;
  /** Id of the source or sink whose option it is; absent for a pipeline setting. */
  readonly step?: string;
}

/**
 * Creates `dir` and its missing parents. Resolves with the first folder it created (the
 * topmost), or undefined when `dir` already existed. Rejects with PATH_UNUSABLE, naming the
 * folder and `owner`'s option, when a level is a file, cannot be created (a virtual or
 * read-only file system, no permission) or cannot be examined.
 */
export async function ensureDir(dir: string, owner: DirOwner): Promise<string | undefined> {
  const missing: string[] = [];
  for (let at = resolve(dir); ; ) {
    const found = await kindOf(at, owner);
    if (found === 'folder') break;
    if (found === 'file')
      throw unusable(owner, `'${at}' is a file, not a folder`, 'remove it or choose another path');
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  missing.reverse();
  for (const level of missing) {
    try {
      await mkdir(level);
    } catch (err) {
      const code = errno(err);
      if (code === 'EEXIST' && (await kindOf(level, owner)) === 'folder') continue;
      throw unusable(
        owner,
        `cannot create the folder '${level}': ${why(code, dirname(level))}`,
        fixFor(code),
      );
    }
  }
  return missing[0];
}

/**
 * Turns the failure to create a file in an existing folder into PATH_UNUSABLE when the folder
 * refuses new files for good (ENOENT in an existing folder, EACCES, EPERM, EROFS); returns
 * undefined for other failures, which the caller reports as it does I/O errors.
 */
export function unusableFolder(err: unknown, folder: string, owner: DirOwner): SluiceError | undefined {
  const code = errno(err);
  if (code !== 'ENOENT' && code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') return undefined;
  return unusable(owner, `cannot create files in '${folder}': ${why(code, folder)}`, fixFor(code), err);
}

async function kindOf(path: string, owner: DirOwner): Promise<'folder' | 'file' | 'missing'> {
  try {
    return (await stat(path)).isDirectory() ? 'folder' : 'file';
  } catch (err) {
    const code = errno(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw unusable(owner, `cannot examine '${path}': ${(err as Error).message}`, fixFor(code), err);
  }
}

function why(code: string | undefined, parent: string): string {
  switch (code) {
    case 'ENOENT':
      return `the file system at '${parent}' does not take new entries (a virtual file system such as /proc or /sys)`;
    case 'EROFS':
      return `'${parent}' is on a read-only file system`;
    case 'EACCES':
    case 'EPERM':
      return `no permission to write in '${parent}'`;
    default:
      return `${code ?? 'unknown error'} in '${parent}'`;
  }
}

function fixFor(code: string | undefined): string {
  return code === 'EACCES' || code === 'EPERM'
    ? 'grant write permission or choose a path you can write'
    : 'choose a path on a regular, writable disk';
}

function unusable(owner: DirOwner, what: string, fix: string, cause?: unknown): SluiceError {
  return new SluiceError('PATH_UNUSABLE', `${what}; ${fix}`, {
    path: owner.path,
    ...(owner.step === undefined ? {} : { step: owner.step }),
    ...(cause === undefined ? {} : { cause }),
  });
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}
