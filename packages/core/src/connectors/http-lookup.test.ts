/**
 * The `http` lookup against a real server on loopback: URL templates (one and several key
 * values, percent-encoded, in the path or the query), credentials in the URL sent as Basic
 * authentication and kept out of messages, and the answer for each status.
 */

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Lookup } from '../lookup.ts';
import { validateConfig } from '../plan/config.ts';
import { httpLookup } from './http-lookup.ts';

let server: Server;
let base = '';
const seen: IncomingMessage[] = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push(req);
    const url = new URL(req.url ?? '/', 'http://x');
    const status = Number(url.searchParams.get('status') ?? 200);
    if (status !== 200) {
      res.writeHead(status).end(`status ${status} for ${url.pathname}`);
      return;
    }
    if (url.pathname === '/text') {
      res.writeHead(200).end('[1,2]');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ path: decodeURIComponent(url.pathname), query: url.search }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function create(options: object, keyLength = 1): Lookup {
  const cfg = validateConfig<Parameters<typeof httpLookup.create>[0]>(httpLookup.config, options);
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  return httpLookup.create(cfg.value, { keyLength });
}

const signal = new AbortController().signal;

test('the key goes into the path, percent-encoded; several values into {key1}, {key2}', async () => {
  const one = create({ url: `${base}/customers/{key}` });
  assert.equal(one.maxKeys, 1);
  assert.deepEqual(await one.get([['a b/c']], signal), [{ path: '/customers/a b/c', query: '' }]);
  const two = create({ url: `${base}/prices/{key2}?region={key1}` }, 2);
  assert.deepEqual(await two.get([['eu', 42]], signal), [{ path: '/prices/42', query: '?region=eu' }]);
});

test('a url that does not use every key value, or names one the key lacks, is refused', () => {
  assert.throws(() => create({ url: `${base}/customers` }), /the url has no \{key\}/);
  assert.throws(() => create({ url: `${base}/p/{key1}` }, 2), /the url has no \{key2\}/);
  assert.throws(() => create({ url: `${base}/p/{key}` }, 2), /the key has 2 values: write \{key1\}/);
  assert.throws(() => create({ url: `${base}/p/{key3}/{key1}/{key2}` }, 2), /not \{key3\}/);
});

test('credentials in the url are sent as Basic authentication and never shown', async () => {
  seen.length = 0;
  const lookup = create({
    url: `http://user:pa%40ss@127.0.0.1:${new URL(base).port}/c/{key}?status=400&api_key=k3y`,
  });
  const [answer] = await lookup.get([['x']], signal);
  assert.equal(seen[0].headers.authorization, `Basic ${Buffer.from('user:pa@ss').toString('base64')}`);
  assert.ok(answer instanceof SluiceError);
  assert.equal(answer.code, 'LOOKUP_FAILED');
  assert.match(answer.message, /^GET http:\/\/127\.0\.0\.1:\d+\/c\/x: HTTP 400: status 400 for \/c\/x$/);
  assert.ok(!answer.message.includes('pa') && !answer.message.includes('k3y'));
});

test('404 is a miss, 5xx/408/429 and no server are transient, another 4xx or a body that is no object is final', async () => {
  const answer = async (url: string) => (await create({ url }).get([['k']], signal))[0];
  assert.equal(await answer(`${base}/c/{key}?status=404`), null);
  for (const status of [500, 503, 408, 429]) {
    const a = await answer(`${base}/c/{key}?status=${status}`);
    assert.ok(a instanceof SluiceError && a.code === 'LOOKUP_UNAVAILABLE' && a.retryable, `status ${status}`);
  }
  const refused = await answer(`${base}/c/{key}?status=422`);
  assert.ok(refused instanceof SluiceError && refused.code === 'LOOKUP_FAILED' && !refused.retryable);
  const notRow = await answer(`${base}/text?k={key}`);
  assert.ok(notRow instanceof SluiceError && /cannot be a row: it is no JSON object/.test(notRow.message));
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const down = await answer(`http://127.0.0.1:${port}/c/{key}`);
  assert.ok(down instanceof SluiceError && down.code === 'LOOKUP_UNAVAILABLE');
  assert.match(down.message, /ECONNREFUSED/);
});
