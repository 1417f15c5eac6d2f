/**
 * `sluice top`: one frame rendered from the API of a real `sluice run --serve` process, and the
 * command itself printing a frame with `--once`.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Cli, runCli, tempDir, waitUntil } from './cli-test-support.ts';
import { readTop, renderTop } from './top.ts';

const pipeline = `
name: cli-top
settings: { checkpoint: { interval: 200ms, dir: ./.sluice } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory }
steps:
  - id: doubled
    type: map
    fields: { v2: v * 2 }
sinks:
  latest: { type: view, key: [sensor] }
`;

function logUrl(stderr: string, msg: string): string {
  const line = stderr.split('\n').find((l) => l.includes(`"msg":${JSON.stringify(msg)}`));
  assert.ok(line, `no '${msg}' log line in: ${stderr}`);
  return String((JSON.parse(line) as { url: string }).url);
}

test('sluice top renders the steps, rates, lag and checkpoint age of a running pipeline', {
  timeout: 60_000,
}, async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), pipeline);
  const cli = new Cli(['run', 'p.yaml', '--serve', '0', '--log-format', 'json'], { cwd: dir });
  try {
    await cli.waitForLog('pipeline started');
    const url = logUrl(cli.stderr, 'serving');
    const ingest = logUrl(cli.stderr, 'http_server listening');
    const posted = await fetch(ingest, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: '{"sensor":"a","v":1}\n{"sensor":"b","v":2}\n{"sensor":"a","v":3}',
    });
    assert.ok(posted.status < 300);
    await posted.arrayBuffer();
    let data: Awaited<ReturnType<typeof readTop>> | undefined;
    await waitUntil(
      async () => {
        data = await readTop(url, undefined);
        await new Promise((r) => setTimeout(r, 50));
        return data.job.lastCheckpoint !== null && data.job.totals.recordsOut === 3;
      },
      20_000,
      'the records and a checkpoint',
      cli,
    );
    if (data === undefined) throw new Error('no data');
    const frame = renderTop(data.job, data.nodes, data.job.lastCheckpoint!.completedAt! + 2_500, 100);
    const lines = frame.split('\n');
    assert.match(lines[0], /^cli-top — running, up /);
    assert.match(lines[1], /^in 3 {2}out 3 {2}dead 0/);
    assert.match(lines[2], /last checkpoint #\d+ 2\.5s ago/);
    assert.match(
      lines[4],
      /^ID\s+KIND\s+TYPE\s+IN\/S\s+OUT\/S\s+TOTAL\s+DEAD\s+WM LAG\s+QUEUE\s+STATE\s+KEYS\s+W P99$/,
    );
    const row = (id: string) =>
      lines
        .slice(5)
        .find((l) => l.startsWith(`${id} `))
        ?.split(/\s+/);
    assert.deepEqual(row('in')?.slice(0, 2), ['in', 'source']);
    assert.deepEqual(row('doubled')?.slice(0, 3), ['doubled', 'step', 'map']);
    assert.equal(row('doubled')?.[5], '3', 'the step read 3 records');
    assert.deepEqual(row('latest')?.slice(0, 3), ['latest', 'sink', 'view']);
    // The queue, the view's rows and bytes at the last checkpoint, and its write p99.
    const latest = row('latest')!;
    assert.equal(latest.at(-4), '0%', 'the sink queue is empty');
    assert.match(latest.at(-3)!, /^\d+B$/);
    assert.equal(latest.at(-2), '2', 'two sensors');
    assert.match(latest.at(-1)!, /^\d+\.\dms$|^\d+ms$/);
    assert.ok(lines.every((l) => l.length <= 100));

    const once = await runCli(['top', url, '--once'], dir);
    assert.equal(once.code, 0, once.stderr);
    assert.match(once.stdout, /^cli-top — running/);
    assert.match(once.stdout, /\ndoubled +step +map /);
  } finally {
    cli.kill('SIGTERM');
    await cli.exited;
  }
  const gone = await runCli(['top', 'http://127.0.0.1:9', '--once'], dir);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /sluice top: cannot read http:\/\/127\.0\.0\.1:9/);
});
