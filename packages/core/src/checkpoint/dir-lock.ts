/**
 * One job per checkpoint folder: a `LOCK` file naming its holder.
 *
 * Two processes running the same pipeline against one checkpoint folder would each prune the
 * other's checkpoints, replay and trim the same write-ahead logs and publish the same file parts;
 * the second must not start. Node has no advisory file locks, so the lock is a file created
 * atomically (written in full under a temporary name, then hard-linked to `LOCK`, which fails when
 * it exists) holding the holder's host, pid and the pid's start time. A lock whose holder is gone
 * is stale and taken over: on the same host when no process has that pid, or the pid now belongs
 * to a later process (its start time differs, read from /proc where there is one), or it is this
 * process's own pid from an earlier run (a restarted container often gets the same pid) while
 * this process holds no lock on the folder. A lock held on another host cannot be checked from
 * here; the error says how to remove it once that process is known to be gone.
 *
 * What is not covered: two processes that find the same stale lock at the same instant may both
 * take it over (each removes it, then one link wins, but the loser may remove the winner's lock
 * in the moment between reading and removing). Starting two copies of a job at once after a crash
 * is the one case left.
 */

import { readFileSync } from 'node:fs';
import { link, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../connector.ts';
import { SluiceError } from '../errors.ts';

export const LOCK_FILE = 'LOCK';

/** What a lock file holds. */
export interface LockHolder {
  host: string;
  pid: number;
  /** The holder's start time as the kernel counts it (/proc/<pid>/stat), where known. */
  pidStart?: string;
  /** When the lock was taken, ISO 8601. */
  since: string;
}

/** Folders this process holds, so that a second job in the same process is refused too. */
const heldHere = new Set<string>();

/** A held lock; `release()` removes it (once; later calls do nothing). */
export interface DirLock {
  readonly file: string;
  release(): Promise<void>;
}

/**
 * Takes the lock of `dir` (which must exist). Rejects with CHECKPOINT_LOCKED when a live process
 * holds it, saying which; takes over a stale lock with a warning on `log`.
 */
export async function acquireDirLock(dir: string, log?: Logger): Promise<DirLock> {
  const file = join(dir, LOCK_FILE);
  if (heldHere.has(file)) throw lockedError(file, ownHolder(), 'another job in this process');
  const mine = ownHolder();
  for (let attempt = 0; ; attempt++) {
    if (await tryCreate(file, mine)) break;
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined; // released meanwhile: try again
      throw err;
    });
    if (text === undefined) continue;
    const holder = parseHolder(text);
    const verdict = holder === undefined ? 'unreadable' : liveness(holder);
    if (verdict === 'alive' || verdict === 'elsewhere' || attempt > 0) {
      throw lockedError(file, holder, verdict === 'elsewhere' ? 'another host' : 'a running process');
    }
    log?.warn('taking over a stale checkpoint lock', {
      file,
      holder: holder ? `pid ${holder.pid} on ${holder.host} since ${holder.since}` : 'unreadable',
    });
    // Remove it only if it is still the stale one just read.
    const again = await readFile(file, 'utf8').catch(() => undefined);
    if (again === text) await unlink(file).catch(() => {});
  }
  heldHere.add(file);
  let released = false;
  return {
    file,
    async release() {
      if (released) return;
      released = true;
      heldHere.delete(file);
      await unlink(file).catch(() => {});
    },
  };
}

/** Creates `file` holding `holder`, complete or not at all; false when it exists. */
async function tryCreate(file: string, holder: LockHolder): Promise<boolean> {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temp, `${JSON.stringify(holder)}\n`);
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
}

function ownHolder(): LockHolder {
  const pidStart = processStart(process.pid);
  return {
    host: hostname(),
    pid: process.pid,
    ...(pidStart === undefined ? {} : { pidStart }),
    since: new Date().toISOString(),
  };
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return undefined;
    const { host, pid, pidStart, since } = v as Record<string, unknown>;
    if (typeof host !== 'string' || !Number.isSafeInteger(pid) || typeof since !== 'string') return undefined;
    return {
      host,
      pid: pid as number,
      ...(typeof pidStart === 'string' ? { pidStart } : {}),
      since,
    };
  } catch {
    return undefined;
  }
}

/** Whether the holder still runs: `alive`, `gone`, or `elsewhere` (another host: unknown). */
export function liveness(holder: LockHolder): 'alive' | 'gone' | 'elsewhere' {
  if (holder.host !== hostname()) return 'elsewhere';
  // Our own pid in a lock this process does not hold: an earlier incarnation of this process.
  if (holder.pid === process.pid) return 'gone';
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: the pid exists but belongs to another user; it is alive.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
  }
  const start = processStart(holder.pid);
  if (holder.pidStart !== undefined && start !== undefined && start !== holder.pidStart) return 'gone';
  return 'alive';
}

/** A process's start time in clock ticks since boot (Linux /proc), or undefined elsewhere. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses) start at field 3;
    // the start time is field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function lockedError(file: string, holder: LockHolder | undefined, who: string): SluiceError {
  const by = holder
    ? `pid ${holder.pid} on host ${holder.host}, since ${holder.since}`
    : 'an unreadable holder';
  return new SluiceError(
    'CHECKPOINT_LOCKED',
    `the checkpoint folder is in use by ${who} (${by}; lock file ${file}). Two jobs sharing one ` +
      'checkpoint folder would overwrite each other’s state: stop the other job, or give this one ' +
      'another pipeline name or settings.checkpoint.dir. If that process is known to be gone, delete the lock file.',
  );
}
