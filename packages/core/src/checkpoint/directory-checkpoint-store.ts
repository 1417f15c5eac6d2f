/**
 * The default checkpoint store: one file per checkpoint in a local directory.
 *
 * Files are named `chk-<id, 20 digits zero-padded>.ckpt`, so names sort like ids. A checkpoint is
 * first written to `<name>.tmp`, fsynced, renamed over its final name and the directory fsynced:
 * a crash leaves either the complete file or a temporary one, which is ignored and removed by the
 * next write.
 *
 * A job may checkpoint many times a second (sources ask for early checkpoints when their window of
 * unacknowledged input fills), so a write does no more file-system calls than durability needs:
 * the folder stays open for its fsyncs, and after a first listing the store knows which
 * checkpoints it holds (it is the folder's only writer: `prepare` takes its lock), so pruning
 * removes the oldest by name instead of listing the folder each time. Anything that fails, and
 * `setAside` and `clear`, make the next write list the folder again.
 */

import { type FileHandle, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Logger } from '../connector.ts';
import { ensureDir } from '../connectors/ensure-dir.ts';
import { SluiceError } from '../errors.ts';
import { type CheckpointData, decodeCheckpoint } from './checkpoint-format.ts';
import type { CheckpointStore, LatestCheckpoint } from './checkpoint-store.ts';
import { acquireDirLock, type DirLock } from './dir-lock.ts';

const CHECKPOINT_NAME = /^chk-(\d{20})\.ckpt$/;
const TEMP_NAME = /^chk-\d{20}\.ckpt\.tmp$/;
/** Sub-folder unreadable checkpoints are moved to (`setAside`); nothing else touches it. */
const CORRUPT_DIR = 'corrupt';

/** File name of checkpoint `id`, e.g. `chk-00000000000000000042.ckpt`. */
export function checkpointFileName(id: number): string {
  return `chk-${String(id).padStart(20, '0')}.ckpt`;
}

/**
 * The checkpoint folder of pipeline `name` under the checkpoint root `root`: `<root>/<name>`,
 * absolute. Throws CONFIG_INVALID (path `name`) when that folder would not be a direct child of
 * `root` (`..`, a separator, an absolute name): a pipeline never writes outside the checkpoint
 * root, whatever its name.
 */
export function pipelineCheckpointDir(root: string, name: string): string {
  const base = resolve(root);
  const dir = resolve(base, name);
  const rel = relative(base, dir);
  if (name === '' || rel !== name || rel === '..' || rel.includes(sep) || isAbsolute(rel)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `pipeline name '${name}' would put its checkpoints outside the checkpoint folder ${base}; ` +
        'give the pipeline a name made of letters, digits, _, - and .',
      { path: 'name' },
    );
  }
  return dir;
}

export interface DirectoryCheckpointStoreOptions {
  /** How many checkpoints to keep; older ones are removed after each write. Default 3. */
  keep?: number;
  /** Where a stale lock taken over is reported. */
  log?: Logger;
}

/** Keeps checkpoints as files in `dir`, which is created on the first write. */
export class DirectoryCheckpointStore implements CheckpointStore {
  readonly dir: string;
  readonly keep: number;
  readonly #log: Logger | undefined;
  #dirReady = false;
  #lock: DirLock | undefined;
  /** The folder, open for its fsyncs; undefined until the first, and after a failure. */
  #dirHandle: FileHandle | undefined;
  /**
   * Names of the checkpoints in the folder, oldest first, as the last prune left them; undefined
   * when the next prune must list the folder (first write, after a failure, `setAside`, `clear`).
   */
  #held: string[] | undefined;

  /**
   * The store of pipeline `name` under the checkpoint root `root`: the folder `<root>/<name>`.
   * Throws CONFIG_INVALID as `pipelineCheckpointDir` does.
   */
  static forPipeline(
    root: string,
    name: string,
    options: DirectoryCheckpointStoreOptions = {},
  ): DirectoryCheckpointStore {
    return new DirectoryCheckpointStore(pipelineCheckpointDir(root, name), options);
  }

  /** Throws CONFIG_INVALID when `keep` is not a positive integer. */
  constructor(dir: string, options: DirectoryCheckpointStoreOptions = {}) {
    const keep = options.keep ?? 3;
    if (!Number.isSafeInteger(keep) || keep < 1) {
      throw new SluiceError('CONFIG_INVALID', `checkpoint keep must be a positive integer, got ${keep}`, {
        path: 'settings.checkpoint.keep',
      });
    }
    this.dir = dir;
    this.keep = keep;
    this.#log = options.log;
  }

  /** Creates the folder and takes its `LOCK` file (see dir-lock.ts). */
  async prepare(): Promise<void> {
    await this.#ensureDir();
    this.#lock ??= await acquireDirLock(this.dir, this.#log);
  }

  async close(): Promise<void> {
    const lock = this.#lock;
    this.#lock = undefined;
    await this.#closeDirHandle();
    await lock?.release();
  }

  async #closeDirHandle(): Promise<void> {
    const handle = this.#dirHandle;
    this.#dirHandle = undefined;
    await handle?.close().catch(() => {});
  }

  /** Makes the folder's entries durable, through the handle kept open for it. */
  async #syncOwnDir(): Promise<void> {
    if (this.#dirHandle === undefined) {
      let handle: FileHandle;
      try {
        handle = await open(this.dir, 'r');
      } catch (err) {
        if (!unsyncable(err)) throw err;
        return;
      }
      this.#dirHandle = handle;
    }
    try {
      await this.#dirHandle.sync();
    } catch (err) {
      await this.#closeDirHandle();
      if (!unsyncable(err)) throw err;
    }
  }

  async write(id: number, bytes: Uint8Array): Promise<void> {
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new SluiceError('INTERNAL', `checkpoint id must be a non-negative integer, got ${id}`);
    }
    const file = join(this.dir, checkpointFileName(id));
    const temp = `${file}.tmp`;
    try {
      await this.#ensureDir();
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
      await this.#syncOwnDir();
    } catch (err) {
      this.#dirReady = false;
      this.#held = undefined;
      await this.#closeDirHandle();
      await rm(temp, { force: true }).catch(() => {});
      throw ioError(`could not write checkpoint ${file}`, err);
    }
    await this.#prune(id);
  }

  async latest(): Promise<LatestCheckpoint | undefined> {
    const skipped: { file: string; reason: string }[] = [];
    for (const name of await this.#names()) {
      const read = await this.#read(name);
      if (read === undefined) continue;
      if ('reason' in read) skipped.push(read);
      else return { ...read, skipped };
    }
    if (skipped.length === 0) return undefined;
    const list = skipped.map((s) => s.reason).join('; ');
    throw new SluiceError(
      'CHECKPOINT_CORRUPT',
      `none of the ${skipped.length} checkpoint(s) in ${this.dir} can be read (${list}). The job does not ` +
        'start rather than lose their state silently: put back a good copy of one, or run with ' +
        `--from-scratch to start over (the unreadable files are then moved to ${join(this.dir, CORRUPT_DIR)})`,
    );
  }

  async unreadable(): Promise<{ file: string; reason: string }[]> {
    const found: { file: string; reason: string }[] = [];
    for (const name of await this.#names()) {
      const read = await this.#read(name);
      if (read !== undefined && 'reason' in read) found.push(read);
    }
    return found;
  }

  async setAside(file: string): Promise<string> {
    const name = basename(file);
    if (!CHECKPOINT_NAME.test(name) || resolve(dirname(file)) !== resolve(this.dir)) {
      throw new SluiceError('INTERNAL', `${file} is not a checkpoint of the store in ${this.dir}`);
    }
    const aside = join(this.dir, CORRUPT_DIR);
    try {
      await ensureDir(aside, { path: 'settings.checkpoint.dir' });
      let target = join(aside, name);
      for (let n = 1; await exists(target); n++) target = join(aside, `${name}.${n}`);
      this.#held = undefined;
      await rename(file, target);
      await syncDir(this.dir);
      return target;
    } catch (err) {
      throw ioError(`could not move the unreadable checkpoint ${file} to ${aside}`, err);
    }
  }

  /** Reads and decodes one checkpoint: its data, why it cannot be used, or undefined when it vanished. */
  async #read(
    name: string,
  ): Promise<{ data: CheckpointData; file: string } | { file: string; reason: string } | undefined> {
    const file = join(this.dir, name);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw ioError(`could not read checkpoint ${file}`, err);
    }
    try {
      const data = decodeCheckpoint(bytes, file);
      const named = idOf(name);
      if (data.id !== named)
        return { file, reason: `${file} holds checkpoint ${data.id}, but its name says ${named}` };
      return { data, file };
    } catch (err) {
      if (err instanceof SluiceError && err.code === 'CHECKPOINT_CORRUPT')
        return { file, reason: err.message };
      throw err;
    }
  }

  async list(): Promise<string[]> {
    return (await this.#names()).map((name) => join(this.dir, name));
  }

  async clear(): Promise<void> {
    this.#held = undefined;
    for (const name of await this.#entries()) {
      if (CHECKPOINT_NAME.test(name) || TEMP_NAME.test(name)) await this.#remove(name);
    }
  }

  /** Checkpoint file names, newest first. */
  async #names(): Promise<string[]> {
    return (await this.#entries())
      .filter((name) => CHECKPOINT_NAME.test(name))
      .sort()
      .reverse();
  }

  async #entries(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw ioError(`could not list checkpoint directory ${this.dir}`, err);
    }
  }

  async #ensureDir(): Promise<void> {
    if (this.#dirReady) return;
    const created = await ensureDir(this.dir, { path: 'settings.checkpoint.dir' });
    if (created !== undefined) await syncDir(dirname(created));
    this.#dirReady = true;
  }

  /**
   * Removes leftover temporary files, checkpoints of an abandoned newer history (ids above the one
   * just written) and all but the newest `keep`. Only failing to remove a newer-history checkpoint
   * is an error: it would win over the one just written at the next restore. Other leftovers are
   * retried at the next write.
   */
  async #prune(writtenId: number): Promise<void> {
    const held = this.#held;
    const written = checkpointFileName(writtenId);
    if (held !== undefined && (held.length === 0 || (held[held.length - 1] as string) < written)) {
      // Ids only grew since the folder was listed: no leftover, no newer history, just the oldest.
      held.push(written);
      while (held.length > this.keep) {
        const name = held[0] as string;
        try {
          await unlink(join(this.dir, name));
        } catch (err) {
          if (errno(err) !== 'ENOENT') {
            this.#held = undefined; // retried by the next write's listing
            return;
          }
        }
        held.shift();
      }
      return;
    }
    this.#held = undefined;
    let names: string[];
    try {
      names = await this.#entries();
    } catch {
      return;
    }
    const older: string[] = [];
    let removedNewer = false;
    let removedAll = true;
    for (const name of names) {
      if (TEMP_NAME.test(name)) {
        await this.#remove(name).catch(() => {
          removedAll = false;
        });
        continue;
      }
      if (!CHECKPOINT_NAME.test(name)) continue;
      const id = idOf(name);
      if (id > writtenId) {
        await this.#remove(name);
        removedNewer = true;
      } else if (id < writtenId) {
        older.push(name);
      }
    }
    if (removedNewer) {
      try {
        await syncDir(this.dir);
      } catch (err) {
        throw ioError(`could not sync checkpoint directory ${this.dir}`, err);
      }
    }
    older.sort().reverse();
    for (const name of older.slice(this.keep - 1))
      await this.#remove(name).catch(() => {
        removedAll = false;
      });
    if (removedAll) this.#held = [...older.slice(0, this.keep - 1).reverse(), written];
  }

  async #remove(name: string): Promise<void> {
    const file = join(this.dir, name);
    try {
      await rm(file, { force: true });
    } catch (err) {
      throw ioError(`could not remove checkpoint ${file}`, err);
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errno(err) === 'ENOENT') return false;
    throw err;
  }
}

function idOf(name: string): number {
  return Number(CHECKPOINT_NAME.exec(name)![1]);
}

/** Makes a directory's entries (a rename, a new file) durable. A no-op where directories cannot be synced. */
async function syncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!unsyncable(err)) throw err;
  } finally {
    await handle?.close();
  }
}

/** Whether `err` says directories cannot be opened or synced here (then there is nothing to sync). */
function unsyncable(err: unknown): boolean {
  const code = errno(err);
  return code === 'EISDIR' || code === 'EPERM' || code === 'EINVAL';
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function ioError(what: string, err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new SluiceError('IO_ERROR', `${what}: ${reason}`, { cause: err });
}
