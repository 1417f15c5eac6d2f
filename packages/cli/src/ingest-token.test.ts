/**
 * The `ingest` token group: `sluice run` with SLUICE_INGEST_TOKEN guards every `http_server`
 * source that has no token of its own, leaves a source's own token in charge, and never prints
 * the token.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Cli, tempDir } from './cli-test-support.ts';

const pipeline = `
name: cli-ingest-token
settings: { checkpoint: { interval: 0s, dir: ./.sluice } }
sources:
  open: { type: http_server, port: 0, path: /open, ack: memory }
  own: { type: http_server, port: 0, path: /own, ack: memory, token: own-token-Xy3 }
sinks:
  out: { type: discard, input: open }
  also: { type: discard, input: own }
`;

const INGEST = 'ingest-token-Qw9';

test('SLUICE_INGEST_TOKEN guards the http_server sources that set no token of their own', {
  timeout: 60_000,
}, async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), pipeline);
  const cli = new Cli(['run', 'p.yaml', '--log-format', 'json'], {
    cwd: dir,
    env: { SLUICE_INGEST_TOKEN: INGEST },
  });
  try {
    await cli.waitForLog('pipeline started');
    const urls = cli.stderr
      .split('\n')
      .filter((l) => l.includes('"msg":"http_server listening"'))
      .map((l) => String((JSON.parse(l) as { url: string }).url));
    const open = urls.find((u) => u.endsWith('/open'))!;
    const own = urls.find((u) => u.endsWith('/own'))!;
    assert.ok(open && own, cli.stderr);
    const status = async (url: string, token?: string) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-ndjson',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        body: '{"v":1}',
      });
      await res.arrayBuffer();
      return res.status;
    };
    assert.equal(await status(open), 401, 'no token');
    assert.equal(await status(open, 'wrong'), 401);
    assert.equal(await status(open, INGEST), 202);
    // A source's own token wins: the ingest token does not open it.
    assert.equal(await status(own, INGEST), 401);
    assert.equal(await status(own, 'own-token-Xy3'), 202);
  } finally {
    cli.kill('SIGTERM');
    await cli.exited;
  }
  assert.ok(!cli.stderr.includes(INGEST) && !cli.stdout.includes(INGEST), 'the token is never printed');
});
