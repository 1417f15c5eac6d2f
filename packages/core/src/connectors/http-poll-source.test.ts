/**
 * The `http_poll` source against a real `node:http` API on loopback: each pagination kind,
 * conditional requests, the incremental cursor, request options and decoding.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { nextLink } from './http-poll-page.ts';
import {
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

describe('http_poll pagination', () => {
  it('page: reads numbered pages until a short one, then polls again after the interval', async () => {
    const list = new PagedList();
    list.add(rows(0, 25));
    const server = await api((req) => list.reply(req));
    const { reader, clock } = await open({
      url: `${server.url}/items`,
      interval: '1m',
      pagination: { type: 'page', param: 'page', start: 1, size_param: 'per_page', size: 10 },
    });
    const first = await readPoll(reader);
    assert.deepEqual(ids(first.records), range(0, 25));
    assert.deepEqual(
      server.requests.map((r) => r.url.searchParams.get('page')),
      ['1', '2', '3'],
      'a short page is the last',
    );
    assert.equal(server.requests[0]?.url.searchParams.get('per_page'), '10');
    assert.deepEqual((await readPoll(reader)).records, [], 'no poll before the interval');
    assert.equal(server.requests.length, 3);
    clock.advance(60_000);
    assert.deepEqual(
      ids((await readPoll(reader)).records),
      range(0, 25),
      'without incremental a poll reads all',
    );
    await reader.close();
  });

  it('page without a size: an empty page ends the poll', async () => {
    const list = new PagedList();
    list.add(rows(0, 20));
    const server = await api((req) => list.reply(req));
    const { reader } = await open({ url: `${server.url}/items`, pagination: { type: 'page', start: 1 } });
    assert.deepEqual(ids((await readPoll(reader)).records), range(0, 20));
    assert.deepEqual(
      server.requests.map((r) => r.url.searchParams.get('page')),
      ['1', '2', '3'],
    );
    await reader.close();
  });

  it('cursor: sends the cursor the body names until it is null', async () => {
    const all = rows(0, 23);
    const server = await api((req) => {
      const from = Number(req.url.searchParams.get('after') ?? 0);
      const next = from + 10 < all.length ? String(from + 10) : null;
      return { body: { data: { items: all.slice(from, from + 10) }, meta: { next_cursor: next } } };
    });
    const { reader } = await open({
      url: `${server.url}/items?status=open`,
      records: 'data.items',
      pagination: { type: 'cursor', cursor_path: 'meta.next_cursor', param: 'after' },
    });
    assert.deepEqual(ids((await readPoll(reader)).records), range(0, 23));
    assert.deepEqual(
      server.requests.map((r) => r.url.searchParams.get('after')),
      [null, '10', '20'],
    );
    assert.ok(
      server.requests.every((r) => r.url.searchParams.get('status') === 'open'),
      'the query is kept',
    );
    await reader.close();
  });

  it('link: follows rel="next" of the Link header, relative or absolute', async () => {
    const all = rows(0, 12);
    const server = await api((req) => {
      const from = Number(req.url.searchParams.get('offset') ?? 0);
      const headers: { [k: string]: string } = {};
      if (from + 5 < all.length)
        headers.link = `</items?offset=${from + 5}>; rel="next", </items?offset=0>; rel="first"`;
      return { headers, body: all.slice(from, from + 5) };
    });
    const { reader } = await open({ url: `${server.url}/items`, pagination: { type: 'link' } });
    assert.deepEqual(ids((await readPoll(reader)).records), range(0, 12));
    assert.equal(server.requests.length, 3);
    await reader.close();
  });

  it('parses Link headers as RFC 8288 writes them', () => {
    const base = 'https://api.example.com/v1/items?page=1';
    assert.equal(
      nextLink('<https://api.example.com/v1/items?page=2>; rel="next", <…?page=9>; rel="last"', base),
      'https://api.example.com/v1/items?page=2',
    );
    assert.equal(nextLink('</v1/items?page=3>; rel=next', base), 'https://api.example.com/v1/items?page=3');
    assert.equal(
      nextLink('<?page=4>; title="a, b"; rel="prev next"', base),
      'https://api.example.com/v1/items?page=4',
    );
    assert.equal(nextLink('<?page=0>; rel="prev"', base), undefined);
    assert.equal(nextLink(null, base), undefined);
  });

  it('max_pages bounds one poll, with a warning', async () => {
    const server = await api((req) => {
      const page = Number(req.url.searchParams.get('page'));
      return { body: rows(page * 2, page * 2 + 2) };
    });
    const { reader, log } = await open({
      url: `${server.url}/endless`,
      pagination: { type: 'page', start: 0 },
      max_pages: 3,
    });
    assert.deepEqual(ids((await readPoll(reader)).records), range(0, 6));
    assert.equal(server.requests.length, 3);
    assert.ok(log.lines.some((l) => l.level === 'warn' && /max_pages/.test(l.message)));
    await reader.close();
  });

  it('fetches the next page only when the pipeline reads (backpressure)', async () => {
    const list = new PagedList();
    list.add(rows(0, 30));
    const server = await api((req) => list.reply(req));
    const { reader } = await open({
      url: `${server.url}/items`,
      pagination: { type: 'page', size_param: 'per_page', size: 10 },
    });
    const batch = await reader.read(4, signal);
    assert.deepEqual(ids(batch?.records ?? []), range(0, 4));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(server.requests.length, 1, 'one page fetched for the records read');
    await reader.close();
  });
});

describe('http_poll incremental polling', () => {
  it('ETag: the next poll sends If-None-Match; a 304 reads nothing; a new ETag reads again', async () => {
    let version = 1;
    const server = await api((req) => {
      const etag = `"v${version}"`;
      if (req.headers['if-none-match'] === etag) return { status: 304, headers: { etag } };
      return { headers: { etag }, body: rows(version * 10, version * 10 + 3) };
    });
    const { reader, clock } = await open({ url: `${server.url}/state`, interval: '10s' });
    assert.deepEqual(ids((await readPoll(reader)).records), [10, 11, 12]);
    clock.advance(10_000);
    assert.deepEqual((await readPoll(reader)).records, []);
    assert.equal(server.requests[1]?.headers['if-none-match'], '"v1"');
    clock.advance(10_000);
    assert.deepEqual((await readPoll(reader)).records, [], 'the validator survives a 304');
    assert.equal(server.requests[2]?.headers['if-none-match'], '"v1"');
    version = 2;
    clock.advance(10_000);
    assert.deepEqual(ids((await readPoll(reader)).records), [20, 21, 22]);
    assert.equal((reader.position() as { etag?: string }).etag, '"v2"');
    await reader.close();
  });

  it('Last-Modified: the next poll sends If-Modified-Since', async () => {
    const modified = 'Mon, 07 Dec 2026 01:00:00 GMT';
    const server = await api((req) =>
      req.headers['if-modified-since'] === modified
        ? { status: 304 }
        : { headers: { 'last-modified': modified }, body: { id: 1, state: 'open' } },
    );
    const { reader, clock } = await open({ url: `${server.url}/one`, interval: '1s' });
    assert.deepEqual(
      (await readPoll(reader)).records,
      [{ id: 1, state: 'open' }],
      'an object body is one record',
    );
    clock.advance(1000);
    assert.deepEqual((await readPoll(reader)).records, []);
    assert.equal(server.requests[1]?.headers['if-modified-since'], modified);
    await reader.close();
  });

  it('incremental: the greatest field seen is sent as the parameter of the next poll', async () => {
    const all = [
      { id: 1, updated_at: '2026-12-07T01:00:00Z' },
      { id: 2, updated_at: '2026-12-07T01:05:00Z' },
      { id: 3, updated_at: '2026-12-07T01:02:00Z' },
    ];
    const server = await api((req) => {
      const since = req.url.searchParams.get('since');
      return { body: { data: all.filter((r) => since === null || r.updated_at > since) } };
    });
    const { reader, clock } = await open({
      url: `${server.url}/changes`,
      records: 'data',
      interval: '1m',
      incremental: { field: 'updated_at', param: 'since' },
    });
    assert.deepEqual(ids((await readPoll(reader)).records), [1, 2, 3]);
    clock.advance(60_000);
    assert.deepEqual((await readPoll(reader)).records, []);
    assert.equal(server.requests[1]?.url.searchParams.get('since'), '2026-12-07T01:05:00Z');
    all.push({ id: 4, updated_at: '2026-12-07T01:10:00Z' });
    clock.advance(60_000);
    assert.deepEqual(ids((await readPoll(reader)).records), [4]);
    await reader.close();
  });

  it('incremental with pages: every request of one poll sends the value from before the poll', async () => {
    const list = new PagedList();
    list.add(rows(0, 15));
    const server = await api((req) => list.reply(req));
    const { reader, clock } = await open({
      url: `${server.url}/items`,
      interval: '1m',
      pagination: { type: 'page', size_param: 'per_page', size: 10 },
      incremental: { field: 'seq', param: 'since' },
    });
    assert.equal((await readPoll(reader)).records.length, 15);
    list.add(rows(15, 27));
    clock.advance(60_000);
    assert.deepEqual(ids((await readPoll(reader)).records), range(15, 27));
    const second = server.requests
      .slice(2)
      .map((r) => [r.url.searchParams.get('page'), r.url.searchParams.get('since')]);
    assert.deepEqual(second, [
      ['1', '15'],
      ['2', '15'],
    ]);
    await reader.close();
  });
});

describe('http_poll requests', () => {
  it('POST sends the body as JSON, with the headers', async () => {
    const server = await api(() => ({ body: [{ id: 1 }] }));
    const { reader } = await open({
      url: `${server.url}/search`,
      method: 'POST',
      body: { query: 'status:open', limit: 5 },
      headers: { 'x-api-key': 'k-123' },
    });
    assert.deepEqual((await readPoll(reader)).records, [{ id: 1 }]);
    const req = server.requests[0];
    assert.equal(req?.method, 'POST');
    assert.deepEqual(JSON.parse(req?.body ?? ''), { query: 'status:open', limit: 5 });
    assert.equal(req?.headers['content-type'], 'application/json');
    assert.equal(req?.headers['x-api-key'], 'k-123');
    await reader.close();
  });

  it('jsonl: one record per line; a line that does not parse is a decode failure', async () => {
    const server = await api(() => ({ body: '{"id":1}\n{"id":2\n\n{"id":3}\n' }));
    const { reader } = await open({ url: `${server.url}/export`, format: 'jsonl' });
    const got = await readPoll(reader);
    assert.deepEqual(ids(got.records), [1, 3]);
    assert.equal(got.failures.length, 1);
    assert.equal(got.failures[0]?.payload, '{"id":2');
    await reader.close();
  });

  it('an element that is not an object is a dead letter with its reason; the rest are read', async () => {
    const server = await api(() => ({ body: [{ id: 1 }, 'oops', [2], null, { id: 5 }] }));
    const { reader } = await open({ url: `${server.url}/mixed` });
    const got = await readPoll(reader);
    assert.deepEqual(ids(got.records), [1, 5]);
    assert.deepEqual(
      got.failures.map((f) => [f.payload, f.message]),
      [
        ['"oops"', 'the record is a string, not a JSON object'],
        ['[2]', 'the record is an array, not a JSON object'],
        ['null', 'the record is null, not a JSON object'],
      ],
    );
    await reader.close();
  });

  it('gives the same records whatever the batch size', async () => {
    const list = new PagedList();
    list.add(rows(0, 37));
    const server = await api((req) => list.reply(req));
    const results: unknown[][] = [];
    for (const max of [1, 7, 10, 1000]) {
      const { reader } = await open({
        url: `${server.url}/items`,
        pagination: { type: 'page', size_param: 'per_page', size: 10 },
      });
      results.push(ids((await readPoll(reader, max)).records));
      await reader.close();
    }
    for (const r of results) assert.deepEqual(r, range(0, 37));
  });
});
