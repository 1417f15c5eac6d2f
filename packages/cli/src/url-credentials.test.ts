/**
 * URL credentials never leave `sluice run`: an HTTP sink whose URL holds a password fails, and
 * neither its retry warnings nor the final error line show the password.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from './cli-test-support.ts';

test('an http sink URL with credentials shows them nowhere in the logs or the final error', async (t) => {
  const authorizations: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    req.resume();
    req.on('end', () => res.writeHead(503).end('down for maintenance'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const dir = await tempDir(t);
  await writeFile(
    join(dir, 'pipeline.yaml'),
    `
name: leaky
sources:
  orders: { type: generate, template: orders, count: 10, seed: 1 }
sinks:
  out:
    type: http
    url: http://admin:hunter2-secret@127.0.0.1:${port}/in
    retry: { max_attempts: 3, initial_backoff: 1ms, max_backoff: 2ms }
`,
  );
  const result = await runCli(['run', 'pipeline.yaml', '--log-format', 'json'], dir);
  assert.equal(result.code, 1, result.stderr);
  assert.ok(authorizations.length >= 3, `${authorizations.length} requests`);
  assert.equal(authorizations[0], `Basic ${Buffer.from('admin:hunter2-secret').toString('base64')}`);
  assert.match(result.stderr, /"msg":"http sink retrying"/);
  const last = result.stderr.trim().split('\n').at(-2) ?? '';
  assert.match(last, /^sluice: .*HTTP 503: down for maintenance \(SINK_UNAVAILABLE\)$/);
  assert.doesNotMatch(result.stderr + result.stdout, /hunter2/);
});
