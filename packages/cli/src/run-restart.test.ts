/**
 * `sluice run --restart-attempts`: a single-process run restarts from its last checkpoint after a
 * transient failure (the restart strategy a worker's tasks use), and gives up, saying so, past
 * the limit; without the option the first failure ends the run, as before. The sink is an HTTP
 * endpoint served here that answers 503 to its first requests.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { runCli, tempDir } from './cli-test-support.ts';

const RECORDS = 300;

/** An endpoint refusing its first `refusals` requests with 503; the ids it took, with repeats. */
async function flakyEndpoint(t: TestContext, refusals: number) {
  const ids: number[] = [];
  let refused = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (s: string) => {
      body += s;
    });
    req.on('end', () => {
      if (refused < refusals) {
        refused++;
        res.writeHead(503).end();
        return;
      }
      for (const r of JSON.parse(body) as { id: number }[]) ids.push(r.id);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return { ids, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/in` };
}

/** A pipeline of RECORDS lines of a file → the http sink at `url`, trying each request twice. */
async function pipelineDir(t: TestContext, url: string): Promise<string> {
  const dir = await tempDir(t);
  const lines = Array.from({ length: RECORDS }, (_, id) => JSON.stringify({ id })).join('\n');
  await writeFile(`${dir}/in.jsonl`, `${lines}\n`);
  await writeFile(
    `${dir}/pipeline.yaml`,
    `
name: restart
settings:
  checkpoint: { interval: 50ms, dir: ./.sluice }
  batch_size: 20
sources:
  in: { type: file, path: ./in.jsonl, format: json }
sinks:
  out:
    type: http
    input: in
    url: ${url}
    batch_size: 20
    retry: { max_attempts: 2, initial_backoff: 5ms, max_backoff: 10ms }
`,
  );
  return dir;
}

test('with --restart-attempts a transient sink failure restarts the run from its checkpoint; every record arrives', async (t) => {
  const endpoint = await flakyEndpoint(t, 5);
  const dir = await pipelineDir(t, endpoint.url);
  const run = await runCli(
    ['run', 'pipeline.yaml', '--log-format', 'json', '--restart-attempts', '3', '--restart-backoff', '20ms'],
    dir,
  );
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(
    [...new Set(endpoint.ids)].sort((a, b) => a - b),
    Array.from({ length: RECORDS }, (_, i) => i),
  );
  const restarts = run.stderr.match(/restarting from the last checkpoint after a failure/g) ?? [];
  assert.equal(restarts.length, 2, 'five refusals, two tries a run: two restarts');
});

test('without --restart-attempts the first failure ends the run; past the limit the run fails saying so', async (t) => {
  const endpoint = await flakyEndpoint(t, 1000);
  const dir = await pipelineDir(t, endpoint.url);
  const once = await runCli(['run', 'pipeline.yaml', '--log-format', 'json'], dir);
  assert.equal(once.code, 1);
  assert.match(once.stderr, /SINK_UNAVAILABLE/);
  assert.doesNotMatch(once.stderr, /restarting/);
  const limited = await runCli(
    ['run', 'pipeline.yaml', '--log-format', 'json', '--restart-attempts', '1', '--restart-backoff', '10ms'],
    dir,
  );
  assert.equal(limited.code, 1);
  assert.match(limited.stderr, /failed 2 times in a row; giving up after 1 restarts/);
  const usage = await runCli(['run', 'pipeline.yaml', '--restart-attempts', 'many'], dir);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--restart-attempts must be a whole number/);
  const serve = await runCli(['run', 'pipeline.yaml', '--restart-attempts', '2', '--serve', '0'], dir);
  assert.equal(serve.code, 2);
  assert.match(serve.stderr, /--restart-attempts does not combine with --serve yet/);
});
