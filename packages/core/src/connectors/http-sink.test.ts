import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { Value } from 'typebox/value';
import { parse } from 'yaml';
import { type Sink, silentLogger } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { DELETE, INSERT, type Row, type RowKind, UPDATE_AFTER, UPDATE_BEFORE } from '../record.ts';
import { systemClock } from '../time.ts';
import { type HttpServerConfig, HttpServerReader, httpServerSource } from './http-server-source.ts';
import { type HttpSinkConfig, httpSink } from './http-sink.ts';

interface Received {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the test server answers to request number `n` (0-based); 'hang' never answers. */
type Reply = { status: number; body?: string; headers?: Record<string, string> } | 'hang';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  await Promise.all(closers.map((close) => close()));
});

async function serve(reply: (received: Received, n: number) => Reply) {
  const received: Received[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = {
      method: req.method ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    };
    received.push(request);
    const answer = reply(request, received.length - 1);
    if (answer === 'hang') return;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  closers.push(close);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/in`, received, close };
}

async function openSink(
  url: string,
  options: Partial<HttpSinkConfig> = {},
  log = silentLogger,
): Promise<Sink> {
  const config = Value.Default(httpSink.config, {
    url,
    ...options,
    retry: { initial_backoff: '1ms', max_backoff: '5ms', ...options.retry },
  });
  assert.ok(Value.Check(httpSink.config, config));
  const sink = httpSink.create(config as HttpSinkConfig);
  const ctx = { id: 'out', restored: undefined, clock: systemClock, baseDir: '.', log };
  await sink.open({ ...ctx, signal: new AbortController().signal });
  return sink;
}

const rows = (n: number, bad: number[] = []): Row[] =>
  Array.from({ length: n }, (_, i) => (bad.includes(i) ? { i, bad: true } : { i }));

const unavailable = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof SluiceError, String(err));
  assert.equal(err.code, 'SINK_UNAVAILABLE');
  assert.equal(err.step, 'out');
  assert.match(err.message, pattern);
  return true;
};

describe('http sink', () => {
  it('sends records in requests of at most batch_size, as JSON arrays or NDJSON', async () => {
    const server = await serve(() => ({ status: 200, body: 'ok' }));
    const sink = await openSink(server.url, {
      batch_size: 500,
      headers: { 'x-api-key': 'k1' },
      method: 'PUT',
    });
    assert.equal(await sink.write({ records: rows(1200), times: [] }), undefined);
    assert.deepEqual(
      server.received.map((r) => (JSON.parse(r.body) as Row[]).length),
      [500, 500, 200],
    );
    assert.deepEqual((JSON.parse(server.received[2].body) as Row[])[199], { i: 1199 });
    assert.equal(server.received[0].method, 'PUT');
    assert.equal(server.received[0].headers['content-type'], 'application/json');
    assert.equal(server.received[0].headers['x-api-key'], 'k1');

    const ndjson = await openSink(server.url, { format: 'ndjson', batch_size: 2 });
    await ndjson.write({ records: rows(3), times: [] });
    assert.deepEqual(
      server.received.slice(3).map((r) => r.body),
      ['{"i":0}\n{"i":1}\n', '{"i":2}\n'],
    );
    assert.equal(server.received[3].headers['content-type'], 'application/x-ndjson');
  });

  it('sends changelogs: debezium envelopes and upserts, an update as one object rejected as a pair', async () => {
    const changes: Row[] = [
      { region: 'eu', n: 1 },
      { region: 'eu', n: 1 },
      { region: 'eu', n: 2 },
      { region: 'us', n: 4 },
      { n: 9 },
    ];
    const kinds: RowKind[] = [INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE, INSERT];
    // The server refuses any request holding n = 2: the update pair is what it refuses.
    const server = await serve((r) =>
      r.body.includes('"n":2') ? { status: 422, body: 'no 2' } : { status: 200 },
    );
    const debezium = await openSink(server.url, { changelog: 'debezium' });
    assert.deepEqual(
      (await debezium.write({ records: changes, times: [], kinds }))?.map((r) => r.index),
      [1, 2],
      'both records of the refused update',
    );
    const delivered = server.received.filter((r) => !r.body.includes('"n":2'));
    assert.deepEqual(
      delivered.flatMap((r) => JSON.parse(r.body) as Row[]),
      [
        { before: null, after: { region: 'eu', n: 1 }, op: 'c' },
        { before: { region: 'us', n: 4 }, after: null, op: 'd' },
        { before: null, after: { n: 9 }, op: 'c' },
      ],
    );

    const all = await serve(() => ({ status: 200 }));
    const upsert = await openSink(all.url, { changelog: 'upsert', key: ['region'], format: 'ndjson' });
    const rejected = await upsert.write({ records: changes, times: [], kinds });
    assert.deepEqual(
      rejected?.map((r) => r.index),
      [4],
    );
    assert.match(rejected![0].message, /no key field 'region'/);
    assert.equal(
      all.received[0].body,
      '{"region":"eu","n":1}\n{"region":"eu","n":2}\n{"region":"us","__deleted":true}\n',
    );
    assert.throws(
      () =>
        httpSink.create(
          Value.Default(httpSink.config, { url: all.url, changelog: 'upsert' }) as HttpSinkConfig,
        ),
      {
        code: 'CONFIG_INVALID',
        path: 'key',
      },
    );
  });

  it('retries transient failures (503, 408) and then succeeds', async () => {
    const server = await serve((_r, n) => ({ status: [503, 408, 200][n] ?? 200 }));
    const sink = await openSink(server.url);
    assert.equal(await sink.write({ records: rows(3), times: [] }), undefined);
    assert.equal(server.received.length, 3);
    assert.equal(new Set(server.received.map((r) => r.body)).size, 1);
  });

  it('honours Retry-After', async () => {
    const server = await serve((_r, n) =>
      n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 },
    );
    const sink = await openSink(server.url);
    const started = performance.now();
    await sink.write({ records: rows(1), times: [] });
    const elapsed = performance.now() - started;
    assert.equal(server.received.length, 2);
    assert.ok(elapsed >= 990 && elapsed < 3000, `waited ${elapsed} ms`);
  });

  it('sends a record given with its text as that text; a record that is not JSON is rejected alone', async () => {
    const server = await serve(() => ({ status: 200 }));
    const sink = await openSink(server.url, { format: 'ndjson' });
    const records: Row[] = [{ a: 1 }, { b: 2 }, { c: 10n }, { d: 4 }];
    const texts = ['{ "a": 1.0 }', '{\n "b": 2 }', undefined, undefined];
    const rejections = await sink.write({ records, times: [], texts });
    assert.deepEqual(
      rejections?.map((r) => [r.index, r.message]),
      [[2, 'the record cannot be written as JSON: Do not know how to serialize a BigInt']],
    );
    // A text spanning lines cannot be an NDJSON line: that record is serialized.
    assert.deepEqual(
      server.received.map((r) => r.body),
      ['{ "a": 1.0 }\n{"b":2}\n{"d":4}\n'],
    );
    const json = await openSink(server.url);
    await json.write({ records: records.slice(0, 2), times: [], texts: texts.slice(0, 2) });
    assert.equal(server.received[1].body, '[{ "a": 1.0 },{"b":2}]');
  });

  it('bisects a rejected request down to the bad records and delivers the others', async () => {
    const delivered: number[] = [];
    const server = await serve((r) => {
      const records = JSON.parse(r.body) as { i: number; bad?: boolean }[];
      const bad = records.find((record) => record.bad);
      if (bad) return { status: 422, body: `{"error":"record ${bad.i} has no amount"}` };
      delivered.push(...records.map((record) => record.i));
      return { status: 200 };
    });
    const sink = await openSink(server.url, { batch_size: 8 });
    const rejections = await sink.write({ records: rows(8, [5]), times: [] });
    assert.deepEqual(rejections, [{ index: 5, message: 'HTTP 422: {"error":"record 5 has no amount"}' }]);
    assert.deepEqual(
      delivered.sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 6, 7],
    );
    assert.ok(server.received.length <= 7, `${server.received.length} requests`);

    delivered.length = 0;
    const twice = await sink.write({ records: rows(20, [1, 13, 14]), times: [] });
    assert.deepEqual(
      twice?.map((r) => r.index),
      [1, 13, 14],
    );
    assert.equal(delivered.length, 17);
  });

  it('fails with SINK_UNAVAILABLE after max_attempts', async () => {
    const server = await serve(() => ({ status: 503, body: 'maintenance' }));
    const sink = await openSink(server.url, {
      retry: { max_attempts: 3, initial_backoff: '1ms', max_backoff: '5ms' },
    });
    await assert.rejects(
      sink.write({ records: rows(2), times: [] }),
      unavailable(/after 3 attempts: HTTP 503: maintenance/),
    );
    assert.equal(server.received.length, 3);
  });

  it('counts a response slower than timeout as a failed attempt', async () => {
    const server = await serve(() => 'hang');
    const sink = await openSink(server.url, {
      timeout: '100ms',
      retry: { max_attempts: 2, initial_backoff: '1ms', max_backoff: '1ms' },
    });
    const started = performance.now();
    await assert.rejects(
      sink.write({ records: rows(1), times: [] }),
      unavailable(/no response within 100ms \(timeout\)/),
    );
    const elapsed = performance.now() - started;
    assert.equal(server.received.length, 2);
    assert.ok(elapsed >= 190 && elapsed < 2000, `took ${elapsed} ms`);
  });

  it('fails at once, dead-lettering nothing, when the endpoint refuses any request (401)', async () => {
    const server = await serve(() => ({ status: 401, body: 'bad token' }));
    const sink = await openSink(server.url);
    await assert.rejects(
      sink.write({ records: rows(4), times: [] }),
      unavailable(/HTTP 401: bad token.*check url/),
    );
    assert.equal(server.received.length, 1);
  });

  it('retries network errors', async () => {
    const server = await serve(() => ({ status: 200 }));
    await server.close();
    const sink = await openSink(server.url, {
      retry: { max_attempts: 2, initial_backoff: '1ms', max_backoff: '1ms' },
    });
    await assert.rejects(
      sink.write({ records: rows(1), times: [] }),
      unavailable(/after 2 attempts: .*ECONNREFUSED/),
    );
  });

  it('sends URL credentials as Basic auth and never shows them in warnings or errors', async () => {
    const server = await serve(() => ({ status: 503, body: 'down' }));
    const lines: string[] = [];
    const log = createLogger({ write: (line) => lines.push(line) });
    const url = server.url.replace('http://', 'http://admin:s3cr%40t@');
    const sink = await openSink(
      url,
      { retry: { max_attempts: 2, initial_backoff: '1ms', max_backoff: '1ms' } },
      log,
    );
    let message = '';
    await assert.rejects(sink.write({ records: rows(1), times: [] }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      message = err.describe();
      return true;
    });
    assert.equal(server.received.length, 2);
    assert.equal(
      server.received[0].headers.authorization,
      `Basic ${Buffer.from('admin:s3cr@t').toString('base64')}`,
    );
    assert.match(message, /HTTP 503: down/);
    assert.match(lines.join('\n'), /http sink retrying/);
    for (const text of [message, ...lines]) {
      assert.doesNotMatch(text, /s3cr/, text);
    }
  });

  it('has a spec example that matches its schema', () => {
    const { type, ...options } = parse(httpSink.example ?? '') as { type: string };
    assert.equal(type, httpSink.type);
    assert.ok(Value.Check(httpSink.config, Value.Default(httpSink.config, options)));
  });

  it('rejects invalid headers and durations with CONFIG_INVALID, without echoing values', () => {
    const create = (options: object) =>
      httpSink.create(
        Value.Default(httpSink.config, { url: 'http://127.0.0.1:1/x', ...options }) as HttpSinkConfig,
      );
    assert.throws(
      () => create({ headers: { authorization: 'Bearer s3cret\r\nx' } }),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.code === 'CONFIG_INVALID' &&
        err.path === 'headers.authorization' &&
        !err.message.includes('s3cret'),
    );
    assert.throws(() => create({ timeout: 'soon' }), /not a duration/);
    assert.throws(() => create({ retry: { initial_backoff: 'x' } }), /not a duration/);
  });

  it('delivers into an http_server source end to end', async () => {
    const config = Value.Default(httpServerSource.config, {
      port: 0,
      queue_records: 50,
      ack: 'memory',
    }) as HttpServerConfig;
    const [reader] = await httpServerSource.create(config).open({
      id: 'in',
      restored: {},
      clock: systemClock,
      baseDir: '.',
      signal: new AbortController().signal,
      log: silentLogger,
    });
    assert.ok(reader instanceof HttpServerReader);
    closers.push(() => reader.close());
    const sink = await openSink(reader.url, { format: 'ndjson', batch_size: 40 });
    const reading = (async () => {
      const got: Row[] = [];
      while (got.length < 200)
        got.push(...((await reader.read(25, new AbortController().signal))?.records ?? []));
      return got;
    })();
    assert.equal(await sink.write({ records: rows(200), times: [] }), undefined);
    assert.deepEqual(await reading, rows(200));
  });
});
