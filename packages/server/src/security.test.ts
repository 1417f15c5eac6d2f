/**
 * Security basics over loopback: bearer tokens per route group (compared in constant time), the
 * request size limit, and CORS off unless origins are named.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sameSecret } from './auth.ts';
import { startServed } from './test-support.ts';

const pipeline = (name: string) => `
name: ${name}
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory }
sinks:
  latest: { type: view, key: [id] }
`;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function status(url: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(url, init);
  await res.arrayBuffer();
  return res.status;
}

test('sameSecret tells equal secrets from different ones of any length', () => {
  assert.equal(sameSecret('s3cret', 's3cret'), true);
  assert.equal(sameSecret('s3cret', 's3creT'), false);
  assert.equal(sameSecret('s3cret', 's3cret-and-more'), false);
  assert.equal(sameSecret('', 's3cret'), false);
});

describe('bearer tokens', { timeout: 60_000 }, () => {
  test('read routes need the read or admin token once a read token is set; admin routes need the admin token', async () => {
    const served = await startServed(pipeline('sec-tokens'), { tokens: { read: 'reader', admin: 'boss' } });
    try {
      const { url } = served.server;
      for (const path of [
        '/api/job',
        '/api/steps',
        '/api/checkpoints',
        '/api/dead-letters',
        '/metrics',
        '/api/views/latest',
      ]) {
        const res = await fetch(`${url}${path}`);
        assert.equal(res.status, 401, `${path} without a token`);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
        await res.arrayBuffer();
        assert.equal(
          await status(`${url}${path}`, { headers: bearer('wrong') }),
          401,
          `${path} with a wrong token`,
        );
        assert.equal(await status(`${url}${path}`, { headers: { authorization: 'Basic cmVhZGVy' } }), 401);
        assert.equal(
          await status(`${url}${path}`, { headers: bearer('reader') }),
          200,
          `${path} with the read token`,
        );
        assert.equal(
          await status(`${url}${path}`, { headers: bearer('boss') }),
          200,
          `${path} with the admin token`,
        );
      }
      const stop = `${url}/api/job/stop`;
      assert.equal(await status(stop, { method: 'POST' }), 401);
      assert.equal(
        await status(stop, { method: 'POST', headers: bearer('reader') }),
        401,
        'the read token is not enough',
      );
      assert.equal(served.job.status, 'running');
      assert.equal(await status(stop, { method: 'POST', headers: bearer('boss') }), 202);
      assert.equal((await served.running).status, 'stopped');
    } finally {
      await served.stop();
    }
  });

  test('without tokens, read routes are open and admin routes are refused', async () => {
    const served = await startServed(pipeline('sec-open'));
    try {
      const { url } = served.server;
      assert.equal(await status(`${url}/api/job`), 200);
      assert.equal(await status(`${url}/api/job/stop`, { method: 'POST' }), 403);
      assert.equal(
        await status(`${url}/api/checkpoints`, { method: 'POST', headers: bearer('anything') }),
        403,
      );
      assert.equal(served.job.status, 'running');
    } finally {
      await served.stop();
    }
  });
});

test('a request body over the limit is refused with 413 and the job runs on', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline('sec-limit'), { tokens: { admin: 'boss' }, bodyLimit: 1024 });
  try {
    const res = await fetch(`${served.server.url}/api/job/stop`, {
      method: 'POST',
      headers: { ...bearer('boss'), 'content-type': 'application/json' },
      body: JSON.stringify({ padding: 'x'.repeat(4096) }),
    });
    assert.equal(res.status, 413);
    await res.arrayBuffer();
    assert.equal(served.job.status, 'running');
    const small = await fetch(`${served.server.url}/api/job/stop`, {
      method: 'POST',
      headers: { ...bearer('boss'), 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(small.status, 202);
    await small.arrayBuffer();
  } finally {
    await served.stop();
  }
});

describe('CORS', { timeout: 60_000 }, () => {
  test('is off by default: no CORS headers, no preflight', async () => {
    const served = await startServed(pipeline('sec-cors-off'));
    try {
      const res = await fetch(`${served.server.url}/api/job`, { headers: { origin: 'http://evil.example' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('access-control-allow-origin'), null);
      await res.arrayBuffer();
      const preflight = await fetch(`${served.server.url}/api/job`, {
        method: 'OPTIONS',
        headers: { origin: 'http://evil.example', 'access-control-request-method': 'GET' },
      });
      assert.equal(preflight.headers.get('access-control-allow-origin'), null);
      assert.notEqual(preflight.status, 204);
      await preflight.arrayBuffer();
    } finally {
      await served.stop();
    }
  });

  test('allows the named origins only', async () => {
    const served = await startServed(pipeline('sec-cors-on'), { corsOrigins: ['http://dash.example'] });
    try {
      const allowed = await fetch(`${served.server.url}/api/job`, {
        headers: { origin: 'http://dash.example' },
      });
      assert.equal(allowed.headers.get('access-control-allow-origin'), 'http://dash.example');
      await allowed.arrayBuffer();
      const other = await fetch(`${served.server.url}/api/job`, {
        headers: { origin: 'http://evil.example' },
      });
      assert.equal(other.headers.get('access-control-allow-origin'), null);
      await other.arrayBuffer();
      const preflight = await fetch(`${served.server.url}/api/views/latest`, {
        method: 'OPTIONS',
        headers: { origin: 'http://dash.example', 'access-control-request-method': 'GET' },
      });
      assert.equal(preflight.status, 204);
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
      await preflight.arrayBuffer();
    } finally {
      await served.stop();
    }
  });
});
