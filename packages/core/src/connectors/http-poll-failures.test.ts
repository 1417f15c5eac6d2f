/**
 * The `http_poll` source against a real `node:http` API on loopback: retries and permanent
 * failures, secrets, resuming mid-poll from a checkpointed position, and the schedule.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { configOf, errorTexts } from '../testing/conformance-support.ts';
import { ManualClock } from '../time.ts';
import { type HttpPollConfig, httpPollConfig } from './http-poll-config.ts';
import { httpPollSource } from './http-poll-source.ts';
import {
  type ApiReply,
  api,
  closeApis,
  ids,
  open,
  PagedList,
  range,
  readPoll,
  rows,
  signal,
} from './http-poll-test-support.ts';

afterEach(closeApis);

describe('http_poll failures', () => {
  const retry = { max_attempts: 4, initial_backoff: '5ms', max_backoff: '20ms' };

  for (const status of [429, 503]) {
    it(`${status} waits at least as long as Retry-After asks`, async () => {
      let calls = 0;
      const server = await api(() =>
        ++calls === 1 ? { status, headers: { 'retry-after': '1' }, body: 'busy' } : { body: [{ id: 1 }] },
      );
      const { reader, log } = await open({ url: `${server.url}/slow`, retry });
      const started = Date.now();
      assert.deepEqual((await readPoll(reader)).records, [{ id: 1 }]);
      const waited = Date.now() - started;
      assert.ok(waited >= 950, `waited ${waited} ms`);
      assert.ok(waited < 3000, `waited ${waited} ms`);
      assert.ok(log.lines.some((l) => l.level === 'warn' && l.fields?.delay_ms === 1000));
      await reader.close();
    });
  }

  it('5xx, 408 and a dropped connection are retried with backoff, then read', async () => {
    let calls = 0;
    const server = await api(() => {
      calls++;
      if (calls === 1) return { status: 500, body: 'boom' };
      if (calls === 2) return { status: 408 };
      if (calls === 3) return { drop: true };
      return { body: [{ id: 7 }] };
    });
    const { reader, log } = await open({ url: `${server.url}/flaky`, retry });
    assert.deepEqual((await readPoll(reader)).records, [{ id: 7 }]);
    assert.equal(calls, 4);
    assert.equal(log.lines.filter((l) => l.level === 'warn').length, 3);
    const reasons = log.lines.map((l) => String(l.fields?.reason));
    assert.match(reasons[0] ?? '', /HTTP 500: boom/);
    assert.match(reasons[1] ?? '', /HTTP 408/);
    assert.match(
      reasons[2] ?? '',
      /GET http:\/\/127\.0\.0\.1:\d+\/flaky failed: /,
      'no response: a network failure',
    );
    await reader.close();
  });

  it('a request without an answer within timeout is retried', async () => {
    let calls = 0;
    // The first request hangs until the test ends: the read can only complete by giving up on it.
    let release = () => {};
    const hung = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await api(async () => {
      if (++calls === 1) await hung;
      return { body: [{ id: calls }] };
    });
    // Room for more than one timed-out attempt on a loaded machine.
    const patient = { ...retry, max_attempts: 10 };
    const { reader, log } = await open({ url: `${server.url}/hang`, timeout: '100ms', retry: patient });
    const records = (await readPoll(reader)).records as { id: number }[];
    release();
    assert.equal(records.length, 1);
    assert.ok((records[0]?.id ?? 0) >= 2, 'the answer came from a later attempt, not the hanging one');
    assert.ok(log.lines.some((l) => /no response within 100ms/.test(String(l.fields?.reason))));
    await reader.close();
  });

  it('gives up after max_attempts with SOURCE_UNAVAILABLE', async () => {
    const server = await api(() => ({ status: 502, body: 'bad gateway' }));
    const { reader } = await open({ url: `${server.url}/down`, retry });
    await assert.rejects(reader.read(10, signal), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'SOURCE_UNAVAILABLE');
      assert.match(err.message, /GET http:\/\/127\.0\.0\.1:\d+\/down: HTTP 502: bad gateway/);
      return true;
    });
    assert.equal(server.requests.length, 4);
    await reader.close();
  });

  const permanent: [string, ApiReply, { [k: string]: unknown }, RegExp][] = [
    ['401', { status: 401, body: 'no' }, {}, /HTTP 401: no \(check the credentials/],
    ['403', { status: 403 }, {}, /HTTP 403/],
    ['404', { status: 404, body: 'not found' }, {}, /HTTP 404: not found/],
    ['a body that is not JSON', { body: '<html>oops</html>' }, {}, /the response is not JSON/],
    [
      'a body larger than max_body',
      { body: rows(0, 200) },
      { max_body: '1kb' },
      /larger than max_body \(1kb\)/,
    ],
    [
      'no array at records',
      { body: { data: { total: 3 } } },
      { records: 'data.items' },
      /no array at 'data\.items'/,
    ],
  ];
  for (const [what, reply, options, message] of permanent) {
    it(`${what} fails at once with SOURCE_REFUSED naming the URL`, async () => {
      const server = await api(() => reply);
      const { reader } = await open({ url: `${server.url}/things`, retry, ...options });
      await assert.rejects(reader.read(10, signal), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'SOURCE_REFUSED');
        assert.equal(err.retryable, false);
        assert.match(err.message, new RegExp(`GET ${server.url.replace(/\./g, '\\.')}/things`));
        assert.match(err.message, message);
        return true;
      });
      assert.equal(server.requests.length, 1, 'not retried');
      await reader.close();
    });
  }

  it('keeps header values, URL credentials and the query out of errors and logs', async () => {
    let calls = 0;
    const server = await api(() =>
      ++calls < 3 ? { status: 500, body: 'retry me' } : { status: 403, body: 'denied' },
    );
    const url = server.url.replace('http://', 'http://robot:pa55word@');
    const { reader, log } = await open({
      url: `${url}/secret?api_key=KEY-42`,
      headers: { authorization: 'Bearer TOKEN-99' },
      retry,
    });
    const err = await reader.read(10, signal).then(
      () => assert.fail('the read should fail'),
      (e: unknown) => e,
    );
    const texts = [...errorTexts(err), ...log.lines.map((l) => JSON.stringify(l))].join('\n');
    assert.match(texts, /\/secret/);
    for (const secret of ['pa55word', 'robot', 'KEY-42', 'TOKEN-99'])
      assert.ok(!texts.includes(secret), secret);
    // The credentials did reach the API, as headers.
    assert.equal(server.requests[0]?.headers.authorization, 'Bearer TOKEN-99');
    assert.equal(server.requests[0]?.url.searchParams.get('api_key'), 'KEY-42');
    await reader.close();
  });

  it('sends URL credentials as Basic authentication', async () => {
    const server = await api(() => ({ body: [] }));
    const { reader } = await open({ url: `${server.url.replace('http://', 'http://robot:pa55word@')}/x` });
    await readPoll(reader);
    assert.equal(
      server.requests[0]?.headers.authorization,
      `Basic ${Buffer.from('robot:pa55word').toString('base64')}`,
    );
    await reader.close();
  });

  it('follows a redirect within the origin and refuses one to another origin', async () => {
    const server = await api((req) => {
      if (req.url.pathname === '/old') return { status: 301, headers: { location: '/new' } };
      if (req.url.pathname === '/away') return { status: 302, headers: { location: 'http://localhost:9/x' } };
      return { body: [{ id: 1, auth: req.headers['x-api-key'] }] };
    });
    const moved = await open({ url: `${server.url}/old`, headers: { 'x-api-key': 'k-1' } });
    assert.deepEqual((await readPoll(moved.reader)).records, [{ id: 1, auth: 'k-1' }]);
    await moved.reader.close();
    const away = await open({ url: `${server.url}/away`, headers: { 'x-api-key': 'k-1' } });
    await assert.rejects(away.reader.read(10, signal), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'SOURCE_REFUSED');
      assert.match(err.message, /redirect to another origin \(http:\/\/localhost:9\)/);
      return true;
    });
    assert.equal(server.requests.filter((r) => r.url.pathname === '/x').length, 0);
    await away.reader.close();
  });

  it('refuses a next link to another origin', async () => {
    const server = await api(() => ({
      headers: { link: '<http://elsewhere.example/items?page=2>; rel="next"' },
      body: [{ id: 1 }],
    }));
    const { reader } = await open({ url: `${server.url}/items`, pagination: { type: 'link' } });
    await assert.rejects(reader.read(10, signal), /another origin/);
    await reader.close();
  });
});

describe('http_poll restarts', () => {
  it('resumes an interrupted poll at the page and record it was on: nothing lost, nothing repeated', async () => {
    const list = new PagedList();
    list.add(rows(0, 45));
    const server = await api((req) => list.reply(req));
    const options = {
      url: `${server.url}/items`,
      pagination: { type: 'page', size_param: 'per_page', size: 10 },
      incremental: { field: 'seq', param: 'since' },
    };
    // Checkpoints at several points: inside a page, at a page boundary, between polls.
    for (const before of [3, 10, 17, 45]) {
      const { reader } = await open(options);
      const read: Row[] = [];
      while (read.length < before) {
        const batch = await reader.read(Math.min(4, before - read.length), signal);
        read.push(...(batch?.records ?? []));
      }
      const checkpoint = JSON.parse(JSON.stringify(reader.position()));
      // Read on past the checkpoint; then the process dies.
      await reader.read(5, signal);
      await reader.close();
      const again = await open(options, checkpoint);
      const rest = await readPoll(again.reader);
      assert.deepEqual(
        [...ids(read), ...ids(rest.records)],
        range(0, 45),
        `checkpoint after ${before} records`,
      );
      await again.reader.close();
    }
  });

  it('keeps the query of the configured url (its secrets) out of the checkpoint, and sends it again after a restore', async () => {
    const list = new PagedList();
    list.add(rows(0, 25));
    const server = await api((req) => list.reply(req));
    const options = {
      url: `${server.url}/items?api_key=KEY-42&region=eu`,
      pagination: { type: 'page', size_param: 'per_page', size: 10 },
    };
    const { reader } = await open(options);
    const read: Row[] = [];
    while (read.length < 13) read.push(...((await reader.read(13 - read.length, signal))?.records ?? []));
    const checkpoint = JSON.parse(JSON.stringify(reader.position()));
    await reader.close();
    const text = JSON.stringify(checkpoint);
    assert.ok(!text.includes('KEY-42'), `the checkpoint holds the secret: ${text}`);
    assert.match(text, /page=2/, 'the checkpoint still says which page the poll was on');
    const again = await open(options, checkpoint);
    const rest = await readPoll(again.reader);
    assert.deepEqual([...ids(read), ...ids(rest.records)], range(0, 25));
    const resumed = server.requests.at(-1);
    assert.equal(resumed?.url.searchParams.get('api_key'), 'KEY-42', 'the restored poll sends the key again');
    assert.equal(resumed?.url.searchParams.get('region'), 'eu');
    assert.equal(resumed?.url.searchParams.getAll('api_key').length, 1);
    await again.reader.close();
  });

  it('keeps the validators and the incremental value across a restart', async () => {
    let version = 1;
    const server = await api((req) => {
      if (req.headers['if-none-match'] === `"v${version}"`) return { status: 304 };
      const since = Number(req.url.searchParams.get('since') ?? 0);
      return { headers: { etag: `"v${version}"` }, body: rows(since + 1, since + 3) };
    });
    const options = { url: `${server.url}/x`, incremental: { field: 'id', param: 'since' } };
    const first = await open(options);
    assert.deepEqual(ids((await readPoll(first.reader)).records), [1, 2]);
    const checkpoint = JSON.parse(JSON.stringify(first.reader.position()));
    await first.reader.close();
    assert.deepEqual(checkpoint, { max: 2, etag: '"v1"' });
    const second = await open(options, checkpoint);
    assert.deepEqual(
      (await readPoll(second.reader)).records,
      [],
      'a restart between polls polls at once; 304',
    );
    assert.equal(server.requests[1]?.headers['if-none-match'], '"v1"');
    assert.equal(server.requests[1]?.url.searchParams.get('since'), '2');
    version = 2;
    const third = await open(options, checkpoint);
    assert.deepEqual(ids((await readPoll(third.reader)).records), [3, 4]);
    await second.reader.close();
    await third.reader.close();
  });
});

describe('http_poll schedule', () => {
  it('cron: the first poll waits for the next time the expression fires', async () => {
    const server = await api(() => ({ body: [{ id: 1 }] }));
    const clock = new ManualClock(Date.UTC(2026, 11, 7, 2, 7, 30));
    const { reader } = await open({ url: `${server.url}/c`, cron: '*/15 * * * *' }, undefined, clock);
    assert.deepEqual((await readPoll(reader)).records, []);
    assert.equal(server.requests.length, 0);
    clock.set(Date.UTC(2026, 11, 7, 2, 15));
    assert.deepEqual((await readPoll(reader)).records, [{ id: 1 }]);
    clock.set(Date.UTC(2026, 11, 7, 2, 29, 59));
    assert.deepEqual((await readPoll(reader)).records, []);
    clock.set(Date.UTC(2026, 11, 7, 2, 30));
    assert.deepEqual((await readPoll(reader)).records, [{ id: 1 }]);
    assert.equal(server.requests.length, 2);
    await reader.close();
  });

  it('a read waiting for the next poll ends when the job stops', async () => {
    const server = await api(() => ({ body: [] }));
    const { reader } = await open({ url: `${server.url}/w`, interval: '1h' });
    await readPoll(reader);
    const stop = new AbortController();
    const started = Date.now();
    const pending = reader.read(10, stop.signal);
    setTimeout(() => stop.abort(new Error('stopped')), 20);
    await pending.catch(() => {});
    assert.ok(Date.now() - started < 300, 'the wait was interrupted');
    await reader.close();
  });

  it('rejects invalid schedules and option combinations as config errors', () => {
    const bad = (options: { [k: string]: unknown }, path: string) =>
      assert.throws(
        () =>
          httpPollSource.create(
            configOf<HttpPollConfig>(httpPollConfig, { url: 'http://127.0.0.1:1/', ...options }),
          ),
        (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === path,
      );
    bad({ cron: '*/15 * * *' }, 'cron');
    bad({ cron: '* * * * *', interval: '1m' }, 'cron');
    bad({ cron: '0 0 31 2 *' }, 'cron');
    bad({ interval: 'soon' }, 'interval');
    bad({ body: { a: 1 } }, 'body');
    bad({ format: 'jsonl', records: 'data' }, 'records');
    bad({ format: 'jsonl', pagination: { type: 'cursor', cursor_path: 'next' } }, 'pagination.type');
  });
});
