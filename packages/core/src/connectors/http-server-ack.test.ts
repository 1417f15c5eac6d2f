/**
 * When the `http_server` source answers 202 (`ack`), what a restart replays, and how a graceful
 * stop drains what was accepted.
 */

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { SourceBatch } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import type { HttpServerReader } from './http-server-reader.ts';
import { never, post, start } from './http-server-test-support.ts';

const ndjson = { 'content-type': 'application/x-ndjson' };

type Read = Required<Pick<SourceBatch, 'records' | 'offsets' | 'times' | 'failures'>>;

/** Reads until `n` records (and failures) came, or a read returns nothing. */
async function readAll(reader: HttpServerReader, n: number, max = 100): Promise<Read> {
  const out: Read = {
    records: [],
    offsets: [],
    times: [],
    failures: [],
  };
  while (out.records.length + out.failures.length < n) {
    const batch = await reader.read(max, never);
    if (batch === null || batch.records.length + (batch.failures?.length ?? 0) === 0) break;
    out.records.push(...batch.records);
    out.offsets.push(...(batch.offsets ?? []));
    out.times.push(...(batch.times ?? []));
    out.failures.push(...(batch.failures ?? []));
  }
  return out;
}

describe('http_server ack: wal', () => {
  it('has every acknowledged body in the log before answering, and a restart replays from the checkpoint', async () => {
    const first = await start({ ack: 'wal' });
    assert.equal((await post(first.reader.url, '[{"n":1},{"n":2},{"n":3}]')).status, 202);
    const logged = await readFile(join(first.walDir, (await readdir(first.walDir))[0]), 'utf8');
    assert.match(logged, /\[\{"n":1\},\{"n":2\},\{"n":3\}\]/, 'the body is in the log when the 202 comes');
    assert.equal((await post(first.reader.url, '{"n":4}\nnot json\n{"n":5}\n', ndjson)).status, 202);

    const two = await first.reader.read(2, never);
    assert.deepEqual(two?.records, [{ n: 1 }, { n: 2 }]);
    assert.deepEqual(two?.offsets, ['0:0#0', '0:0#1']);
    const checkpointed = first.reader.position();
    assert.deepEqual(checkpointed, { segment: 0, offset: 0, record: 2 });
    // The process dies here: what was read after the checkpoint never reached a sink.
    const lost = await first.reader.read(100, never);
    assert.equal(lost?.records.length, 3);

    const restarted = await start({ ack: 'wal' }, { walDir: first.walDir, restored: { http: checkpointed } });
    const replayed = await readAll(restarted.reader, 4);
    assert.deepEqual(replayed.records, [{ n: 3 }, { n: 4 }, { n: 5 }]);
    // The second frame starts after the first: 8 bytes of frame header, 9 of request header, 25 of body.
    assert.deepEqual(replayed.offsets, ['0:0#2', '0:42#0', '0:42#1']);
    assert.deepEqual(
      replayed.failures.map((f) => [f.payload, f.offset]),
      [['not json', '0:42']],
    );
    // New requests come after the replayed ones.
    assert.equal((await post(restarted.reader.url, '{"n":6}')).status, 202);
    assert.deepEqual((await readAll(restarted.reader, 1)).records, [{ n: 6 }]);

    // Without a checkpoint position the whole log is replayed.
    const fromStart = await start({ ack: 'wal' }, { walDir: first.walDir });
    const everything = await readAll(fromStart.reader, 7);
    assert.deepEqual(
      everything.records.map((r: Row) => r.n),
      [1, 2, 3, 4, 5, 6],
    );
    assert.equal(everything.failures.length, 1);
  });

  it('keeps the time each request was accepted in the log', async () => {
    const first = await start({ ack: 'wal' });
    await post(first.reader.url, '{"a":1}');
    await new Promise((r) => setTimeout(r, 5));
    await post(first.reader.url, '{"a":2}');
    const live = await readAll(first.reader, 2);
    assert.ok(live.times[0] < live.times[1]);
    const replayed = await readAll((await start({ ack: 'wal' }, { walDir: first.walDir })).reader, 2);
    assert.deepEqual(replayed.times, live.times);
  });

  it('removes log segments once the checkpoints the job keeps have passed them', async () => {
    const { reader, walDir } = await start({ ack: 'wal', wal_segment_size: '1kb' }, { keepCheckpoints: 2 });
    const body = JSON.stringify({ pad: 'x'.repeat(600) });
    const positions: unknown[] = [];
    for (let i = 0; i < 6; i++) {
      assert.equal((await post(reader.url, body)).status, 202);
      await reader.read(10, never);
      positions.push(reader.position());
    }
    assert.equal((await readdir(walDir)).length, 6);
    await reader.commit(positions[3]);
    assert.equal((await readdir(walDir)).length, 6, 'the older kept checkpoint may still be restored');
    await reader.commit(positions[5]);
    assert.deepEqual(await readdir(walDir), [
      'wal-00000000000000000003.log',
      'wal-00000000000000000004.log',
      'wal-00000000000000000005.log',
    ]);
  });

  it('replays the whole log when the checkpoint points past its end (a replaced folder)', async () => {
    const first = await start({ ack: 'wal' });
    await post(first.reader.url, '{"a":1}');
    const restored = { http: { segment: 7, offset: 4096, record: 0 } };
    const again = await start({ ack: 'wal' }, { walDir: first.walDir, restored });
    assert.deepEqual((await readAll(again.reader, 1)).records, [{ a: 1 }]);
    assert.ok(again.logs.some(([level, message]) => level === 'warn' && message.includes('past the end')));
  });

  it('an earlier ack: wal log refuses to start in another mode', async () => {
    const first = await start({ ack: 'wal' });
    await post(first.reader.url, '{"a":1}');
    await first.reader.close();
    await assert.rejects(start({ ack: 'memory' }, { walDir: first.walDir }), (err: unknown) => {
      return err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === 'ack';
    });
  });
});

describe('http_server ack: checkpoint', () => {
  it('answers 202 only once a checkpoint covers the records, asking for one', async () => {
    let asked = 0;
    const { reader } = await start({ ack: 'checkpoint' }, { requestCheckpoint: () => asked++ });
    let answered: number | undefined;
    const request = post(reader.url, '[{"a":1},{"a":2}]').then((res) => {
      answered = res.status;
      return res;
    });
    const batch = await readAll(reader, 2);
    assert.deepEqual(batch.records, [{ a: 1 }, { a: 2 }]);
    assert.equal(asked, 1);
    await reader.commit(1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(answered, undefined, 'a checkpoint that covers only part of the request does not answer it');
    await reader.commit(reader.position());
    assert.equal((await request).status, 202);
  });

  it('does not count the wait for the checkpoint against request_timeout', async () => {
    const { reader } = await start({ ack: 'checkpoint', header_timeout: '100ms', request_timeout: '200ms' });
    const request = post(reader.url, '{"a":1}');
    await readAll(reader, 1);
    await new Promise((r) => setTimeout(r, 600));
    await reader.commit(reader.position());
    assert.equal((await request).status, 202);
  });

  it('answers 503 to a request still waiting when the source closes', async () => {
    const { reader } = await start({ ack: 'checkpoint' });
    const request = post(reader.url, '{"a":1}');
    await readAll(reader, 1);
    const closing = reader.close();
    const res = await request;
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    await closing;
  });
});

describe('http_server drain', () => {
  for (const ack of ['wal', 'memory', 'checkpoint'] as const) {
    it(`refuses new requests and hands what was accepted, then ends (ack: ${ack})`, async () => {
      const { reader } = await start({ ack });
      const accepted = [post(reader.url, '[{"a":1},{"a":2}]'), post(reader.url, '{"a":3}')];
      if (ack !== 'checkpoint') for (const res of await Promise.all(accepted)) assert.equal(res.status, 202);
      else await new Promise((r) => setTimeout(r, 100));
      reader.drain();
      const refused = await post(reader.url, '{"a":4}');
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      const health = await fetch(`http://127.0.0.1:${reader.port}/health`);
      assert.deepEqual([health.status, await health.json()], [503, { status: 'stopping' }]);
      const got: Row[] = [];
      for (;;) {
        const batch = await reader.read(1, never);
        if (batch === null) break;
        got.push(...batch.records);
      }
      assert.deepEqual(got.map((r) => r.a).sort(), [1, 2, 3]);
      if (ack === 'checkpoint') {
        await reader.commit(reader.position());
        for (const res of await Promise.all(accepted)) assert.equal(res.status, 202);
      }
    });
  }
});
