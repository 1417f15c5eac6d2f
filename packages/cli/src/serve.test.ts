/**
 * `sluice run --serve`: the HTTP server starts with the job on loopback, answers over it, and
 * closes when the job stops on SIGTERM; TLS and a request rate limit from the command line.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { reportMissingService } from '@sluice/core/testing';
import { Cli, runCli, tempDir } from './cli-test-support.ts';
import { parseRateLimit, parseServeAddress } from './serve-option.ts';

const pipeline = `
name: cli-serve
settings: { checkpoint: { interval: 1s, dir: ./.sluice } }
sources:
  in:
    type: http_server
    port: 0
    path: /ingest
    ack: memory
sinks:
  latest: { type: view, key: [sensor] }
`;

/** The \`fields\` of the JSON log line with this message. */
function logFields(stderr: string, msg: string): { [k: string]: unknown } {
  const line = stderr.split('\n').find((l) => l.includes(`"msg":${JSON.stringify(msg)}`));
  assert.ok(line, `no '${msg}' log line in: ${stderr}`);
  return JSON.parse(line) as { [k: string]: unknown };
}

test('--serve parses port, host:port and [ipv6]:port, loopback by default', () => {
  assert.deepEqual(parseServeAddress('8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseServeAddress('0.0.0.0:9000'), { host: '0.0.0.0', port: 9000 });
  assert.deepEqual(parseServeAddress('[::1]:0'), { host: '::1', port: 0 });
  assert.equal(parseServeAddress('localhost'), undefined);
  assert.equal(parseServeAddress('70000'), undefined);
});

test('sluice run --serve serves the running job and its views, and stops with it', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), pipeline);
  const cli = new Cli(['run', 'p.yaml', '--serve', '0', '--log-format', 'json'], { cwd: dir });
  await cli.waitForLog('pipeline started');
  const url = String(logFields(cli.stderr, 'serving').url);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const ingest = String(logFields(cli.stderr, 'http_server listening').url);

  const job = (await (await fetch(`${url}/api/job`)).json()) as { pipeline: string; status: string };
  assert.deepEqual([job.pipeline, job.status], ['cli-serve', 'running']);

  const posted = await fetch(ingest, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: '{"sensor":"a","v":1}\n{"sensor":"b","v":2}\n{"sensor":"a","v":3}',
  });
  assert.ok(posted.status < 300, `ingest answered ${posted.status}`);
  await posted.arrayBuffer();
  let row: { row: unknown } | undefined;
  for (let i = 0; i < 200 && row === undefined; i++) {
    const res = await fetch(`${url}/api/views/latest/a`);
    if (res.status === 200) row = (await res.json()) as { row: unknown };
    else await res.arrayBuffer();
    if (row === undefined) await new Promise((r) => setTimeout(r, 25));
  }
  assert.deepEqual(row?.row, { sensor: 'a', v: 3 });

  cli.kill('SIGTERM');
  const result = await cli.exited;
  assert.equal(result.code, 0, result.stderr);
  await assert.rejects(fetch(`${url}/api/job`), 'the server closed with the job');
});

test('sluice run --serve refuses an address that is not [host:]port', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), pipeline);
  const result = await runCli(['run', 'p.yaml', '--serve', 'nowhere'], dir);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--serve must be a port or host:port/);
});

test('sluice run --serve on a port in use fails at start, saying so', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), pipeline);
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = taken.address() as AddressInfo;
    const result = await runCli(['run', 'p.yaml', '--serve', String(port)], dir);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /EADDRINUSE|in use/);
  } finally {
    taken.close();
  }
});

test('sluice run --serve takes its tokens from SLUICE_READ_TOKEN and SLUICE_ADMIN_TOKEN', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), pipeline);
  process.env.SLUICE_READ_TOKEN = 'cli-reader';
  process.env.SLUICE_ADMIN_TOKEN = 'cli-admin';
  let cli: Cli;
  try {
    cli = new Cli(['run', 'p.yaml', '--serve', '0', '--log-format', 'json'], { cwd: dir });
  } finally {
    delete process.env.SLUICE_READ_TOKEN;
    delete process.env.SLUICE_ADMIN_TOKEN;
  }
  await cli.waitForLog('pipeline started');
  const url = String(logFields(cli.stderr, 'serving').url);
  const anonymous = await fetch(`${url}/api/job`);
  assert.equal(anonymous.status, 401);
  await anonymous.arrayBuffer();
  const reader = await fetch(`${url}/api/job`, { headers: { authorization: 'Bearer cli-reader' } });
  assert.equal(reader.status, 200);
  await reader.arrayBuffer();
  // The admin token stops the run as SIGTERM would.
  const stop = await fetch(`${url}/api/job/stop`, {
    method: 'POST',
    headers: { authorization: 'Bearer cli-admin' },
  });
  assert.equal(stop.status, 202);
  await stop.arrayBuffer();
  const result = await cli.exited;
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /cli-reader|cli-admin/, 'tokens are never logged');
});

test('--serve-rate-limit parses requests per second with an optional burst', () => {
  assert.deepEqual(parseRateLimit('50'), { perSecond: 50 });
  assert.deepEqual(parseRateLimit('0.5,3'), { perSecond: 0.5, burst: 3 });
  for (const bad of ['0', '10,0', '-1', 'fast', '10,']) assert.equal(parseRateLimit(bad), undefined, bad);
});

test('sluice run refuses server options without --serve, a certificate without its key, and a bad rate limit', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), pipeline);
  const cases: [string[], RegExp][] = [
    [['--serve-rate-limit', '10'], /--serve-rate-limit needs --serve/],
    [['--serve', '0', '--serve-tls-cert', 'cert.pem'], /--serve-tls-cert and --serve-tls-key go together/],
    [['--serve', '0', '--serve-tls-cert', 'no.pem', '--serve-tls-key', 'no.pem'], /cannot read the TLS/],
    [['--serve', '0', '--serve-rate-limit', 'fast'], /--serve-rate-limit must be requests per second/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(['run', 'p.yaml', ...args], dir);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});

test('sluice run --serve with --serve-tls-cert/--serve-tls-key speaks HTTPS, and --serve-rate-limit answers 429 past the burst', async (t) => {
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0) {
    reportMissingService('openssl not installed (to make a test certificate)');
    t.skip('openssl not installed');
    return;
  }
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), pipeline);
  const keygen = spawnSync(
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
      'key.pem',
      '-out',
      'cert.pem',
    ],
    { encoding: 'utf8', cwd: dir },
  );
  assert.equal(keygen.status, 0, keygen.stderr);
  const ca = await readFile(join(dir, 'cert.pem'));
  // Two requests at once, then one per 100 s: a third request in a row is refused.
  const cli = new Cli(
    [
      'run',
      'p.yaml',
      '--serve',
      '0',
      '--serve-tls-cert',
      'cert.pem',
      '--serve-tls-key',
      'key.pem',
      '--serve-rate-limit',
      '0.01,2',
      '--log-format',
      'json',
    ],
    { cwd: dir },
  );
  await cli.waitForLog('pipeline started');
  const url = String(logFields(cli.stderr, 'serving').url);
  assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const { port } = new URL(url);
  const get = () =>
    new Promise<{ status: number; retryAfter?: string; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/job', ca }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (s: string) => {
          body += s;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            ...(typeof res.headers['retry-after'] === 'string'
              ? { retryAfter: res.headers['retry-after'] }
              : {}),
          }),
        );
      });
      req.on('error', reject);
      req.end();
    });
  const first = await get();
  assert.equal(first.status, 200, first.body);
  assert.equal((JSON.parse(first.body) as { pipeline: string }).pipeline, 'cli-serve');
  // A client that does not trust the certificate is refused by TLS itself.
  await assert.rejects(fetch(`${url}/api/job`));
  assert.equal((await get()).status, 200);
  const third = await get();
  assert.equal(third.status, 429, third.body);
  assert.ok(Number(third.retryAfter) > 0, `Retry-After ${third.retryAfter}`);

  cli.kill('SIGTERM');
  const result = await cli.exited;
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /PRIVATE KEY/, 'the key is never logged');
});
