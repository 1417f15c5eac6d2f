import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import { type CheckpointData, encodeCheckpoint } from './checkpoint-format.ts';
import { checkpointFileName, DirectoryCheckpointStore } from './directory-checkpoint-store.ts';

function data(id: number): CheckpointData {
  return {
    id,
    pipeline: 'p',
    createdAt: id * 1000,
    watermark: id === 1 ? Number.NEGATIVE_INFINITY : id * 10,
    sources: { gen: { '0': id * 100 } },
    operators: { count: new Map([['k', id]]) },
    sinks: {},
  };
}

describe('DirectoryCheckpointStore', () => {
  let root: string;
  let n = 0;
  const fresh = () => join(root, `case-${n++}`, 'checkpoints');

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-checkpoint-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('is empty before the first write and creates the directory on it', async () => {
    const store = new DirectoryCheckpointStore(fresh());
    assert.equal(await store.latest(), undefined);
    assert.deepEqual(await store.list(), []);
    await store.write(1, encodeCheckpoint(data(1)));
    const latest = await store.latest();
    assert.deepEqual(latest?.data, data(1));
    assert.equal(basename(latest!.file), 'chk-00000000000000000001.ckpt');
    assert.deepEqual(latest?.skipped, []);
  });

  it('returns the newest and keeps only the newest `keep`', async () => {
    const dir = fresh();
    const store = new DirectoryCheckpointStore(dir, { keep: 2 });
    for (const id of [1, 2, 3, 9, 10]) await store.write(id, encodeCheckpoint(data(id)));
    assert.deepEqual(
      (await store.list()).map((f) => basename(f)),
      [checkpointFileName(10), checkpointFileName(9)],
    );
    assert.equal((await store.latest())?.data.id, 10);
    assert.deepEqual(await readdir(dir).then((names) => names.sort()), [
      checkpointFileName(9),
      checkpointFileName(10),
    ]);
  });

  it('skips a newest checkpoint with a flipped byte and reports it', async () => {
    const dir = fresh();
    const store = new DirectoryCheckpointStore(dir);
    await store.write(1, encodeCheckpoint(data(1)));
    await store.write(2, encodeCheckpoint(data(2)));
    const file = join(dir, checkpointFileName(2));
    const bytes = await readFile(file);
    bytes[bytes.length - 5] ^= 0xff;
    await writeFile(file, bytes);
    const latest = await store.latest();
    assert.deepEqual(latest?.data, data(1));
    assert.equal(latest?.skipped.length, 1);
    assert.equal(latest?.skipped[0].file, file);
    assert.match(latest!.skipped[0].reason, /checksum/);
  });

  it('skips truncated checkpoints, newest first, and returns undefined when none is valid', async () => {
    const dir = fresh();
    const store = new DirectoryCheckpointStore(dir);
    for (const id of [1, 2, 3]) await store.write(id, encodeCheckpoint(data(id)));
    await truncate(join(dir, checkpointFileName(3)), 100);
    await truncate(join(dir, checkpointFileName(2)), 0);
    const latest = await store.latest();
    assert.equal(latest?.data.id, 1);
    assert.deepEqual(
      latest?.skipped.map((s) => basename(s.file)),
      [checkpointFileName(3), checkpointFileName(2)],
    );
    assert.match(latest!.skipped[0].reason, /truncated/);
  });

  it('rejects with CHECKPOINT_CORRUPT naming every file when none can be read, and keeps them', async () => {
    const dir = fresh();
    const store = new DirectoryCheckpointStore(dir);
    for (const id of [1, 2]) await store.write(id, encodeCheckpoint(data(id)));
    await truncate(join(dir, checkpointFileName(2)), 100);
    await truncate(join(dir, checkpointFileName(1)), 10);
    await assert.rejects(store.latest(), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'CHECKPOINT_CORRUPT');
      assert.match(
        err.message,
        new RegExp(`${checkpointFileName(2)}.*truncated.*${checkpointFileName(1)}`, 's'),
      );
      assert.match(err.message, /--from-scratch/);
      return true;
    });
    assert.deepEqual((await readdir(dir)).sort(), [checkpointFileName(1), checkpointFileName(2)]);
    assert.deepEqual(
      (await store.unreadable()).map((u) => basename(u.file)),
      [checkpointFileName(2), checkpointFileName(1)],
    );
  });

  it('moves an unreadable checkpoint aside, where neither restores nor pruning touch it', async () => {
    const dir = fresh();
    const store = new DirectoryCheckpointStore(dir, { keep: 2 });
    for (const id of [1, 2]) await store.write(id, encodeCheckpoint(data(id)));
    await truncate(join(dir, checkpointFileName(2)), 30);
    const latest = await store.latest();
    assert.equal(latest?.data.id, 1);
    const moved = await store.setAside(latest!.skipped[0].file);
    assert.equal(moved, join(dir, 'corrupt', checkpointFileName(2)));
    assert.equal((await readFile(moved)).length, 30);
    assert.deepEqual(await store.unreadable(), []);
    for (const id of [2, 3]) await store.write(id, encodeCheckpoint(data(id)));
    await store.write(1, encodeCheckpoint(data(1)));
    await store.clear();
    assert.deepEqual(await readdir(dir), ['corrupt']);
    assert.deepEqual(await readdir(join(dir, 'corrupt')), [checkpointFileName(2)]);
    // Setting aside a second file of the same name keeps both.
    await store.write(2, encodeCheckpoint(data(2)));
    const again = await store.setAside(join(dir, checkpointFileName(2)));
    assert.notEqual(again, moved);
    assert.equal((await readdir(join(dir, 'corrupt'))).length, 2);
  });

  it('skips a checkpoint whose contents do not match its name', async () => {
    const dir = fresh();
    const store = new DirectoryCheckpointStore(dir);
    await store.write(1, encodeCheckpoint(data(1)));
    await store.write(2, encodeCheckpoint(data(7)));
    const latest = await store.latest();
    assert.equal(latest?.data.id, 1);
    assert.match(latest!.skipped[0].reason, /holds checkpoint 7, but its name says 2/);
  });

  it('ignores a temp file left by a crash and removes it at the next write', async () => {
    const dir = fresh();
    const store = new DirectoryCheckpointStore(dir);
    await store.write(1, encodeCheckpoint(data(1)));
    const partial = encodeCheckpoint(data(2)).subarray(0, 80);
    await writeFile(join(dir, `${checkpointFileName(2)}.tmp`), partial);
    assert.equal((await store.latest())?.data.id, 1);
    assert.equal((await store.list()).length, 1);
    await store.write(2, encodeCheckpoint(data(2)));
    assert.deepEqual((await readdir(dir)).sort(), [checkpointFileName(1), checkpointFileName(2)]);
    assert.equal((await store.latest())?.data.id, 2);
  });

  it('prunes by name after its first listing, and lists again after a restart or a set-aside', async () => {
    const dir = fresh();
    const first = new DirectoryCheckpointStore(dir, { keep: 2 });
    for (let id = 1; id <= 6; id++) await first.write(id, encodeCheckpoint(data(id)));
    assert.deepEqual((await readdir(dir)).sort(), [checkpointFileName(5), checkpointFileName(6)]);
    await first.close();
    // A crash of that process left a temp file and a checkpoint of a newer history behind.
    await writeFile(join(dir, `${checkpointFileName(3)}.tmp`), 'x');
    await writeFile(join(dir, checkpointFileName(9)), encodeCheckpoint(data(9)));
    const second = new DirectoryCheckpointStore(dir, { keep: 2 });
    await second.write(7, encodeCheckpoint(data(7)));
    assert.deepEqual((await readdir(dir)).sort(), [checkpointFileName(6), checkpointFileName(7)]);
    for (let id = 8; id <= 10; id++) await second.write(id, encodeCheckpoint(data(id)));
    assert.deepEqual((await readdir(dir)).sort(), [checkpointFileName(9), checkpointFileName(10)]);
    await second.setAside(join(dir, checkpointFileName(9)));
    await second.write(11, encodeCheckpoint(data(11)));
    await second.write(12, encodeCheckpoint(data(12)));
    assert.deepEqual((await readdir(dir)).sort(), [
      checkpointFileName(11),
      checkpointFileName(12),
      'corrupt',
    ]);
    assert.equal((await second.latest())?.data.id, 12);
    await second.close();
  });

  it('leaves files it does not own alone', async () => {
    const dir = fresh();
    const store = new DirectoryCheckpointStore(dir, { keep: 1 });
    await store.write(1, encodeCheckpoint(data(1)));
    await writeFile(join(dir, 'README'), 'mine');
    await store.write(2, encodeCheckpoint(data(2)));
    await store.clear();
    assert.deepEqual(await readdir(dir), ['README']);
  });

  it('starts a new history when a lower id is written', async () => {
    const dir = fresh();
    const store = new DirectoryCheckpointStore(dir);
    for (const id of [5, 6, 7]) await store.write(id, encodeCheckpoint(data(id)));
    await store.write(1, encodeCheckpoint(data(1)));
    assert.deepEqual(
      (await store.list()).map((f) => basename(f)),
      [checkpointFileName(1)],
    );
    assert.equal((await store.latest())?.data.id, 1);
  });

  it('clear removes checkpoints and temp files', async () => {
    const dir = fresh();
    const store = new DirectoryCheckpointStore(dir);
    await store.write(1, encodeCheckpoint(data(1)));
    await writeFile(join(dir, `${checkpointFileName(2)}.tmp`), 'x');
    await store.clear();
    assert.deepEqual(await readdir(dir), []);
    assert.equal(await store.latest(), undefined);
    await new DirectoryCheckpointStore(fresh()).clear();
  });

  it('rejects with PATH_UNUSABLE when the directory cannot be created', async () => {
    const blocker = join(root, `case-${n++}`);
    await mkdir(blocker, { recursive: true });
    await writeFile(join(blocker, 'file'), 'x');
    const store = new DirectoryCheckpointStore(join(blocker, 'file', 'checkpoints'));
    await assert.rejects(store.write(1, encodeCheckpoint(data(1))), (err: unknown) => {
      return (
        err instanceof SluiceError &&
        err.code === 'PATH_UNUSABLE' &&
        err.path === 'settings.checkpoint.dir' &&
        /file' is a file, not a folder/.test(err.message)
      );
    });
  });

  it('rejects with IO_ERROR when a checkpoint exists but cannot be read', async () => {
    const dir = fresh();
    const store = new DirectoryCheckpointStore(dir);
    await store.write(1, encodeCheckpoint(data(1)));
    await mkdir(join(dir, checkpointFileName(2)));
    await assert.rejects(
      store.latest(),
      (err: unknown) => err instanceof SluiceError && err.code === 'IO_ERROR',
    );
  });

  it('rejects an invalid keep', () => {
    assert.throws(() => new DirectoryCheckpointStore(fresh(), { keep: 0 }), /positive integer/);
  });
});
