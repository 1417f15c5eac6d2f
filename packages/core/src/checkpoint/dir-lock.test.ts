import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { acquireDirLock, LOCK_FILE, type LockHolder } from './dir-lock.ts';

function locked(...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof SluiceError, String(err));
    assert.equal(err.code, 'CHECKPOINT_LOCKED', err.message);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  };
}

/** A process that runs until killed, and its kernel start time. */
async function sleeper(): Promise<{ child: ChildProcess; pid: number; start: string }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('spawn', resolve));
  const pid = child.pid!;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return { child, pid, start: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]! };
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

const holder = (h: Partial<LockHolder>): string =>
  JSON.stringify({ host: hostname(), pid: 1, since: '2026-01-01T00:00:00.000Z', ...h });

describe('checkpoint folder lock', () => {
  let root: string;
  let n = 0;
  const fresh = async () => {
    const dir = join(root, `case-${n++}`);
    await mkdir(dir, { recursive: true });
    return dir;
  };
  const warnings: string[] = [];
  const log: Logger = {
    debug() {},
    info() {},
    warn: (m, f) => warnings.push(`${m} ${JSON.stringify(f)}`),
    error() {},
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-lock-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('is held by one job of this process at a time, and free again once released', async () => {
    const dir = await fresh();
    const lock = await acquireDirLock(dir);
    const written = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as LockHolder;
    assert.equal(written.pid, process.pid);
    assert.equal(written.host, hostname());
    await assert.rejects(acquireDirLock(dir), locked(/another job in this process/, /LOCK/));
    await lock.release();
    await lock.release();
    assert.deepEqual(await readdir(dir), [], 'the lock file and no temporary file is left');
    const again = await acquireDirLock(dir);
    await again.release();
  });

  it('refuses while another live process holds it, naming the pid and host', async () => {
    const dir = await fresh();
    const { child, pid, start } = await sleeper();
    try {
      await writeFile(join(dir, LOCK_FILE), holder({ pid, pidStart: start }));
      await assert.rejects(
        acquireDirLock(dir),
        locked(new RegExp(`pid ${pid} on host ${hostname()}`), /delete the lock file/),
      );
      // Also without a recorded start time (a lock written where /proc is missing).
      await writeFile(join(dir, LOCK_FILE), holder({ pid }));
      await assert.rejects(acquireDirLock(dir), locked(/a running process/));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over the lock of a process that has died, with a warning', async () => {
    const dir = await fresh();
    const pid = await deadPid();
    await writeFile(join(dir, LOCK_FILE), holder({ pid }));
    warnings.length = 0;
    const lock = await acquireDirLock(dir, log);
    assert.equal((JSON.parse(await readFile(lock.file, 'utf8')) as LockHolder).pid, process.pid);
    assert.match(warnings.join('\n'), new RegExp(`stale checkpoint lock.*pid ${pid}`));
    await lock.release();
  });

  it('takes over a lock whose pid now belongs to a later process, or to this process from an earlier run', async () => {
    const { child, pid } = await sleeper();
    try {
      const reused = await fresh();
      await writeFile(join(reused, LOCK_FILE), holder({ pid, pidStart: '1' }));
      await (await acquireDirLock(reused)).release();
    } finally {
      child.kill('SIGKILL');
    }
    const own = await fresh();
    await writeFile(join(own, LOCK_FILE), holder({ pid: process.pid }));
    await (await acquireDirLock(own)).release();
  });

  it('refuses a lock held on another host, and takes over an unreadable one', async () => {
    const elsewhere = await fresh();
    await writeFile(join(elsewhere, LOCK_FILE), holder({ host: `not-${hostname()}`, pid: process.pid }));
    await assert.rejects(acquireDirLock(elsewhere), locked(/another host/, new RegExp(`not-${hostname()}`)));
    const garbled = await fresh();
    await writeFile(join(garbled, LOCK_FILE), '{"host":');
    warnings.length = 0;
    await (await acquireDirLock(garbled, log)).release();
    assert.match(warnings.join('\n'), /unreadable/);
  });
});
