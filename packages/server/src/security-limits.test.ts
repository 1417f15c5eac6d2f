/**
 * The request rate limit per client (429 with Retry-After, other clients and later requests
 * unaffected) and HTTPS by configuration (a certificate made here with openssl; the API answers
 * over TLS to a client trusting it, and plain HTTP gets no API answer).
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { reportMissingService } from '@sluice/core/testing';
import { RateLimiter } from './rate-limit.ts';
import { startServed } from './test-support.ts';

const pipeline = `
name: limits
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory }
sinks:
  out: { type: discard }
`;

test('the rate limiter gives each client its burst, then one request per 1/perSecond', () => {
  const limiter = new RateLimiter({ perSecond: 2, burst: 3 });
  assert.deepEqual(
    [0, 0, 0, 0].map(() => limiter.take('a', 1000)),
    [0, 0, 0, 1],
  );
  assert.equal(limiter.take('b', 1000), 0, 'another client has its own bucket');
  assert.equal(limiter.take('a', 1499), 1, 'not yet a whole token back');
  assert.equal(limiter.take('a', 1500), 0, 'a token back after 500 ms');
  assert.equal(limiter.take('a', 1500), 1);
  assert.throws(() => new RateLimiter({ perSecond: 0 }), /perSecond/);
});

test('a client over the rate limit gets 429 with Retry-After; the limit is off by default', async () => {
  const served = await startServed(pipeline, { rateLimit: { perSecond: 0.01, burst: 3 } });
  try {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    let body: unknown;
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${served.server.url}/api/job`);
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter = res.headers.get('retry-after');
        body = await res.json();
      } else await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 100, `Retry-After ${retryAfter}`);
    assert.equal((body as { error: string }).error, 'RATE_LIMITED');
    assert.equal(served.job.status, 'running');
  } finally {
    await served.stop();
  }
  const open = await startServed(pipeline);
  try {
    const statuses = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await fetch(`${open.server.url}/api/job`);
        await res.arrayBuffer();
        return res.status;
      }),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
  } finally {
    await open.stop();
  }
});

test('with tls the server speaks HTTPS only', { timeout: 60_000 }, async (t) => {
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0) {
    reportMissingService('openssl not installed (to make a test certificate)');
    t.skip('openssl not installed');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'sluice-tls-'));
  try {
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(made.status, 0, made.stderr);
    const cert = await readFile(join(dir, 'cert.pem'));
    const key = await readFile(join(dir, 'key.pem'));
    const served = await startServed(pipeline, { tls: { cert, key } });
    try {
      assert.match(served.server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const { port } = new URL(served.server.url);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/api/job', ca: cert }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (s: string) => {
            body += s;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(answer.status, 200);
      assert.equal((JSON.parse(answer.body) as { pipeline: string }).pipeline, 'limits');
      // A client that does not trust the certificate is refused by TLS itself.
      await assert.rejects(fetch(`${served.server.url}/api/job`));
      // Plain HTTP gets no answer from the API.
      const plain = await new Promise<number | string>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/api/job' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', (err) => resolve(err.message));
        req.end();
      });
      assert.notEqual(plain, 200);
    } finally {
      await served.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
