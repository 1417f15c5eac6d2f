/**
 * Names of the files the `file` sink writes, and the directory operations that publish them.
 *
 * A part is written under a hidden in-progress name, `.<name>.inprogress`, beside its final name,
 * and renamed to `<name>` when it is finalized. Without rolling the one part is named exactly like
 * the configured path; with rolling, `<stem>-<yyyyMMddHHmmss>-<seq><ext>`: the UTC time the part
 * was opened and a sequence number of at least 6 digits.
 */

import { open, rename, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

const SUFFIX = '.inprogress';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The part names of one sink target. */
export class PartNames {
  /** Directory holding the target and its parts. */
  readonly dir: string;
  /** Final name without rolling: the configured file name. */
  readonly target: string;
  readonly rolling: boolean;
  readonly #stem: string;
  readonly #ext: string;
  readonly #part: RegExp;
  readonly #hidden: RegExp;

  /** `path` is the absolute target path. */
  constructor(path: string, rolling: boolean) {
    this.dir = dirname(path);
    this.target = basename(path);
    this.rolling = rolling;
    this.#ext = extname(this.target);
    this.#stem = this.target.slice(0, this.target.length - this.#ext.length);
    const part = rolling
      ? `${escapeRegExp(this.#stem)}-\\d{14}-(\\d{6,})${escapeRegExp(this.#ext)}`
      : escapeRegExp(this.target);
    this.#part = new RegExp(`^${part}$`);
    this.#hidden = new RegExp(`^\\.${part}${escapeRegExp(SUFFIX)}$`);
  }

  /** Final name of the part with sequence number `seq` opened at `openedAt` (epoch ms). */
  part(seq: number, openedAt: number): string {
    if (!this.rolling) return this.target;
    const stamp = new Date(openedAt).toISOString().replace(/[-:T]/g, '').slice(0, 14);
    return `${this.#stem}-${stamp}-${String(seq).padStart(6, '0')}${this.#ext}`;
  }

  /** In-progress name of a part. */
  hidden(name: string): string {
    return `.${name}${SUFFIX}`;
  }

  /** Whether `file` (a name in `dir`) is an in-progress file of this target. */
  isHidden(file: string): boolean {
    return this.#hidden.test(file);
  }

  /** Sequence number of a finalized rolled part, or undefined when `file` is not one. */
  seqOf(file: string): number | undefined {
    const m = this.rolling ? this.#part.exec(file) : null;
    return m === null ? undefined : Number(m[1]);
  }

  /** Absolute path of a name in `dir`. */
  path(name: string): string {
    return join(this.dir, name);
  }
}

/**
 * Renames the in-progress file of part `name` to its final name. Returns false when neither the
 * in-progress file nor the final file exists (the part is lost); a part already finalized is left
 * alone.
 */
export async function finalizePart(names: PartNames, name: string): Promise<boolean> {
  try {
    await rename(names.path(names.hidden(name)), names.path(name));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return exists(names.path(name));
  }
}

/** Whether a file exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Makes renames and new names in `dir` durable; a no-op where directories cannot be synced. */
export async function syncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await fh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    await fh.close();
  }
}
