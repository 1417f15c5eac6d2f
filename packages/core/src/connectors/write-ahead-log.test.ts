import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import { hasFrames, segmentFileName, type WalFrame, WriteAheadLog } from './write-ahead-log.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-wal-'));
  dirs.push(dir);
  return join(dir, 'wal');
}

const open = (dir: string, segmentBytes = 1 << 20, onTorn?: (bytes: number) => void) =>
  WriteAheadLog.open(dir, { segmentBytes, step: 'in', onTorn });

async function all(wal: WriteAheadLog, from = wal.start, until = wal.end): Promise<WalFrame[]> {
  const frames: WalFrame[] = [];
  for await (const frame of wal.read(from, until)) frames.push(frame);
  return frames;
}

const texts = (frames: WalFrame[]) => frames.map((f) => f.payload.toString());

describe('write-ahead log', () => {
  it('reads back what was appended, in order, from any frame', async () => {
    const dir = await freshDir();
    const wal = await open(dir);
    const appended = ['a', 'bb', 'ccc'].map((t) =>
      wal.append([Buffer.from(t.slice(0, 1)), Buffer.from(t.slice(1))]),
    );
    await Promise.all(appended.map((a) => a.durable));
    assert.deepEqual(appended[1].position, appended[0].next);
    await wal.close();

    const again = await open(dir);
    assert.deepEqual(again.end, appended[2].next);
    assert.deepEqual(texts(await all(again)), ['a', 'bb', 'ccc']);
    assert.deepEqual(texts(await all(again, appended[1].position)), ['bb', 'ccc']);
    assert.deepEqual(texts(await all(again, appended[2].next)), []);
    await again.close();
  });

  it('commits a group of appends with one sync, resolving them in order', async () => {
    const wal = await open(await freshDir());
    const order: number[] = [];
    const appends = Array.from({ length: 50 }, (_, i) => wal.append([Buffer.from(`r${i}`)]));
    await Promise.all(appends.map((a, i) => a.durable.then(() => order.push(i))));
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
    );
    assert.equal((await all(wal)).length, 50);
    await wal.close();
  });

  it('rolls segments, reads across them and trims whole segments before a position', async () => {
    const dir = await freshDir();
    const wal = await open(dir, 64);
    const appends = Array.from({ length: 10 }, (_, i) =>
      wal.append([Buffer.from(`record-${i}-`.padEnd(20, '.'))]),
    );
    await Promise.all(appends.map((a) => a.durable));
    const segments = (await readdir(dir)).sort();
    assert.ok(segments.length >= 4, segments.join());
    assert.equal((await all(wal, appends[3].position)).length, 7);
    await wal.trim(appends[6].position);
    assert.deepEqual((await readdir(dir)).sort()[0], segmentFileName(appends[6].position.segment));
    const skipped: unknown[] = [];
    const frames: WalFrame[] = [];
    for await (const f of wal.read(appends[0].position, wal.end, (kept) => skipped.push(kept)))
      frames.push(f);
    assert.equal(skipped.length, 1);
    // Two 28-byte frames fit in a 64-byte segment: record 6 starts the first segment kept.
    assert.deepEqual(
      texts(frames),
      [6, 7, 8, 9].map((n) => `record-${n}-`.padEnd(20, '.')),
    );
    await wal.close();
  });

  it('cuts a torn frame off the end of the newest segment when it opens', async () => {
    const dir = await freshDir();
    const wal = await open(dir);
    await wal.append([Buffer.from('kept')]).durable;
    await wal.append([Buffer.from('also kept')]).durable;
    await wal.close();
    const file = join(dir, segmentFileName(0));
    const intact = (await stat(file)).size;
    // A frame whose write was cut short: its header promises more than follows.
    const header = Buffer.alloc(8);
    header.writeUInt32LE(100, 0);
    await appendFile(file, Buffer.concat([header, Buffer.from('half')]));
    let torn = 0;
    const again = await open(dir, 1 << 20, (bytes) => {
      torn = bytes;
    });
    assert.equal(torn, 12);
    assert.equal((await stat(file)).size, intact);
    assert.deepEqual(texts(await all(again)), ['kept', 'also kept']);
    const next = again.append([Buffer.from('after')]);
    await next.durable;
    assert.equal(next.position.offset, intact);
    assert.deepEqual(texts(await all(again)), ['kept', 'also kept', 'after']);
    await again.close();
  });

  it('refuses to replay past a damaged frame', async () => {
    const dir = await freshDir();
    const wal = await open(dir, 32);
    const a = wal.append([Buffer.from('first frame, long enough')]);
    const b = wal.append([Buffer.from('second frame, long enough')]);
    await Promise.all([a.durable, b.durable]);
    await wal.close();
    assert.notEqual(a.position.segment, b.position.segment);
    // Flip a payload byte of the older, complete segment.
    const file = join(dir, segmentFileName(a.position.segment));
    await writeFile(file, Buffer.from([24, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from('first frame, long enough')]));
    const again = await open(dir, 32);
    await assert.rejects(
      all(again),
      (err: unknown) => err instanceof SluiceError && err.code === 'WAL_FAILED',
    );
    await again.close();
  });

  it('reports a failed write to every pending and later append', async () => {
    const dir = await freshDir();
    const wal = await open(dir);
    await wal.append([Buffer.from('x')]).durable;
    await wal.close();
    const closed = wal.append([Buffer.from('y')]);
    await assert.rejects(
      closed.durable,
      (err: unknown) => err instanceof SluiceError && err.code === 'WAL_FAILED',
    );
  });

  it('tells whether a folder holds frames', async () => {
    const dir = await freshDir();
    assert.equal(await hasFrames(dir), false);
    const wal = await open(dir);
    assert.equal(await hasFrames(dir), false);
    await wal.append([Buffer.from('x')]).durable;
    assert.equal(await hasFrames(dir), true);
    await wal.close();
    await truncate(join(dir, segmentFileName(0)), 0);
    assert.equal(await hasFrames(dir), false);
  });
});
