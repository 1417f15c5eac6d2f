import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Value } from 'typebox/value';
import { parse } from 'yaml';
import { SluiceError } from '../errors.ts';
import { type HttpServerConfig, httpServerSource } from './http-server-source.ts';
import { never, post, start } from './http-server-test-support.ts';

describe('http_server source', () => {
  it('accepts a JSON object, a JSON array and NDJSON, and hands them over in order', async () => {
    const { reader, logs } = await start({ ack: 'memory' });
    assert.equal(reader.partition, 'http');
    assert.ok(reader.port > 0);
    assert.deepEqual(logs[0], [
      'info',
      'http_server listening',
      { url: `http://127.0.0.1:${reader.port}/ingest` },
    ]);

    let res = await post(reader.url, '{"n":1}');
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { accepted: 1, failed: 0 });
    res = await post(reader.url, '[{"n":2},{"n":3}]');
    assert.deepEqual(await res.json(), { accepted: 2, failed: 0 });
    res = await post(reader.url, '{"n":4}\r\n\n{"n":5}\n', { 'content-type': 'application/x-ndjson' });
    assert.deepEqual(await res.json(), { accepted: 2, failed: 0 });

    const batch = await reader.read(3, never);
    assert.deepEqual(batch?.records, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.deepEqual(batch?.offsets, [0, 1, 2]);
    assert.equal(batch?.times?.length, 3);
    assert.equal(batch?.texts, undefined);
    assert.equal(reader.position(), 3);
    const rest = await reader.read(100, never);
    assert.deepEqual(rest?.records, [{ n: 4 }, { n: 5 }]);
    assert.deepEqual(rest?.texts, ['{"n":4}', '{"n":5}'], 'an NDJSON line is the text of its record');
    assert.equal(reader.position(), 5);
  });

  it('dead-letters undecodable NDJSON lines and accepts the others', async () => {
    const { reader } = await start({ ack: 'memory' });
    const body = '{"ok":1}\n{"broken":\n42\n{"ok":2}\n';
    const res = await post(reader.url, body, { 'content-type': 'application/x-ndjson; charset=utf-8' });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { accepted: 2, failed: 2 });
    const batch = await reader.read(10, never);
    assert.deepEqual(batch?.records, [{ ok: 1 }, { ok: 2 }]);
    assert.deepEqual(
      batch?.failures?.map((f) => [f.payload, f.offset]),
      [
        ['{"broken":', 0],
        ['42', 1],
      ],
    );
    assert.match(batch?.failures?.[0].message ?? '', /^line 2: /);
    assert.equal(reader.position(), 4);
  });

  it('holds records to max_depth and invalid_utf8 (records in a request, bodies as a whole)', async () => {
    const { reader } = await start({ max_depth: 2 });
    const ndjson = Buffer.concat([
      Buffer.from('{"a":[1]}\n{"a":[[1]]}\n{"a":"'),
      Buffer.from([0xff]),
      Buffer.from('"}\n'),
    ]);
    let res = await fetch(reader.url, {
      method: 'POST',
      body: ndjson,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    assert.deepEqual([res.status, await res.json()], [202, { accepted: 1, failed: 2 }]);
    const batch = await reader.read(10, never);
    assert.deepEqual(batch?.records, [{ a: [1] }]);
    assert.match(batch?.failures?.[0].message ?? '', /^line 2: nested deeper than max_depth \(2\)/);
    assert.match(batch?.failures?.[1].message ?? '', /^line 3: invalid UTF-8/);
    res = await fetch(reader.url, { method: 'POST', body: Buffer.from([0x7b, 0xff, 0x7d]) });
    assert.equal(res.status, 400);
    assert.match(String(((await res.json()) as { error: string }).error), /not valid UTF-8/);
  });

  it('answers 400 to a body that is not JSON or not an object or array, accepting nothing', async () => {
    const { reader } = await start();
    for (const body of ['{"a":', '42', '']) {
      const res = await post(reader.url, body);
      assert.equal(res.status, 400);
      assert.ok(((await res.json()) as { error: string }).error.length > 0);
    }
    assert.deepEqual((await reader.read(10, new AbortController().signal))?.records, []);
  });

  it('checks the bearer token, matching the scheme without regard to case', async () => {
    const { reader } = await start({ token: 's3cret' });
    assert.equal((await post(reader.url, '{}')).status, 401);
    const wrong = await post(reader.url, '{}', { authorization: 'Bearer s3cres' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await post(reader.url, '{}', { authorization: 's3cret' })).status, 401);
    for (const header of ['Bearer s3cret', 'bearer s3cret', 'BEARER  s3cret', 'bEaReR s3cret ']) {
      assert.equal((await post(reader.url, '{}', { authorization: header })).status, 202, header);
    }
  });

  it('answers 413 to a body over max_body, declared or streamed', async () => {
    const { reader } = await start({ max_body: '1kb' });
    const big = JSON.stringify([{ pad: 'x'.repeat(2000) }]);
    const declared = await post(reader.url, big);
    assert.equal(declared.status, 413);
    await declared.arrayBuffer();
    const chunks = [new TextEncoder().encode('[{"pad":"'), new Uint8Array(1500).fill(120)];
    const streamed = await fetch(reader.url, {
      method: 'POST',
      body: new ReadableStream({
        pull(controller) {
          const chunk = chunks.shift();
          if (chunk) controller.enqueue(chunk);
          else controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413);
    await streamed.arrayBuffer();
    assert.equal((await post(reader.url, '{"small":true}')).status, 202);
  });

  it('answers 429 with Retry-After when the records would overflow the queue, accepting nothing of that request', async () => {
    const { reader } = await start({ queue_records: 3 });
    assert.equal((await post(reader.url, '[{"a":1},{"a":2}]')).status, 202);
    const full = await post(reader.url, '[{"b":1},{"b":2}]');
    assert.equal(full.status, 429);
    assert.equal(full.headers.get('retry-after'), '1');
    const tooMany = await post(reader.url, '[{"c":1},{"c":2},{"c":3},{"c":4}]');
    assert.equal(tooMany.status, 413);
    assert.equal((await reader.read(10, never))?.records.length, 2);
    assert.equal((await post(reader.url, '[{"b":1},{"b":2}]')).status, 202);
    assert.deepEqual((await reader.read(10, never))?.records, [{ b: 1 }, { b: 2 }]);
  });

  it('answers 429 when the bodies would overflow queue_bytes, and takes requests again once read', async () => {
    const { reader } = await start({ queue_bytes: '4kb', max_body: '4kb', queue_records: 100_000 });
    const body = JSON.stringify([{ pad: 'x'.repeat(1500) }]);
    assert.equal((await post(reader.url, body)).status, 202);
    assert.equal((await post(reader.url, body)).status, 202);
    const full = await post(reader.url, body);
    assert.equal(full.status, 429);
    assert.equal(full.headers.get('retry-after'), '1');
    assert.match(((await full.json()) as { error: string }).error, /queue_bytes 4kb/);
    assert.equal((await reader.read(10, never))?.records.length, 2);
    assert.equal((await post(reader.url, body)).status, 202);
  });

  it('serves /health, with the queue figures only for the token, and refuses other paths and methods', async () => {
    const { reader } = await start({ path: '/hooks/orders', token: 't0ken' });
    const base = `http://127.0.0.1:${reader.port}`;
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const wrong = await fetch(`${base}/health`, { headers: { authorization: 'Bearer nope' } });
    assert.deepEqual(await wrong.json(), { status: 'ok' });
    const inside = await fetch(`${base}/health`, { headers: { authorization: 'Bearer t0ken' } });
    assert.deepEqual(await inside.json(), { status: 'ok', ack: 'wal', queued_records: 0, queued_bytes: 0 });
    assert.equal((await fetch(`${base}/ingest`, { method: 'POST', body: '{}' })).status, 404);
    const get = await fetch(reader.url);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  it('returns an empty batch after ~200 ms idle and wakes at once when records arrive', async () => {
    const { reader } = await start();
    let started = performance.now();
    assert.deepEqual((await reader.read(10, never))?.records, []);
    const idle = performance.now() - started;
    assert.ok(idle >= 150 && idle < 1000, `idle read took ${idle} ms`);
    const pending = reader.read(10, never);
    setTimeout(() => void post(reader.url, '{"late":true}'), 30);
    assert.deepEqual((await pending)?.records, [{ late: true }], 'woken before the idle timeout');
    const aborted = new AbortController();
    started = performance.now();
    setTimeout(() => aborted.abort(), 10);
    assert.deepEqual((await reader.read(10, aborted.signal))?.records, []);
    assert.ok(performance.now() - started < 190, 'an abort ends the wait');
  });

  it('continues offsets from a restored count (ack: memory), and warns of records lost on close', async () => {
    const { reader, logs } = await start({ ack: 'memory' }, { restored: { http: 41 } });
    assert.equal(
      (await post(reader.url, '{"x":1}\n{"x":2}', { 'content-type': 'application/jsonl' })).status,
      202,
    );
    assert.deepEqual((await reader.read(1, never))?.offsets, [41]);
    await reader.close();
    assert.ok(logs.some(([level, message]) => level === 'warn' && message.includes('they are lost')));
    await assert.rejects(post(reader.url, '{}'));
  });

  it('fails to open with SOURCE_UNAVAILABLE when the port is taken', async () => {
    const { reader } = await start();
    await assert.rejects(start({ port: reader.port }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'SOURCE_UNAVAILABLE');
      return true;
    });
  });

  it('has a spec example that matches its schema', () => {
    const { type, ...options } = parse(httpServerSource.example ?? '') as { type: string };
    assert.equal(type, httpServerSource.type);
    assert.ok(Value.Check(httpServerSource.config, Value.Default(httpServerSource.config, options)));
  });

  it('rejects /health as path, invalid sizes and timeouts, and a max_body that could never fit', () => {
    const config = (options: object) =>
      Value.Default(httpServerSource.config, { ...options }) as unknown as HttpServerConfig;
    const refused = (options: object, path: string) =>
      assert.throws(
        () => httpServerSource.create(config(options)),
        (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === path,
      );
    refused({ path: '/health' }, 'path');
    refused({ max_body: 'lots' }, 'max_body');
    refused({ max_body: '32mb' }, 'queue_bytes');
    refused({ header_timeout: '1m', request_timeout: '10s' }, 'header_timeout');
    refused({ request_timeout: 'soon' }, 'request_timeout');
  });

  it('needs a folder for the write-ahead log outside a job', async () => {
    const config = Value.Default(httpServerSource.config, { port: 0 }) as HttpServerConfig;
    await assert.rejects(
      httpServerSource.create(config).open({
        id: 'in',
        restored: {},
        clock: { now: () => 0 },
        baseDir: '.',
        signal: never,
        log: { debug() {}, info() {}, warn() {}, error() {} },
      }),
      (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === 'wal_dir',
    );
  });
});
