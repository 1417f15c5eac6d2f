/**
 * The `http_poll` source in a running job: a YAML pipeline polls a real `node:http` API into a
 * `file` sink; a restart from the job's checkpoint goes on from the incremental value it held.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { Harness, planFrom, testRegistry, waitFor } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { PagedList, startApi, type TestApi } from './http-poll-test-support.ts';

const registry = testRegistry();
const h = new Harness();
let server: TestApi | undefined;
afterEach(async () => {
  await h.stopAll();
  await server?.close();
  server = undefined;
});

const rows = (from: number, to: number): Row[] =>
  Array.from({ length: to - from }, (_, i) => ({ id: from + i }));

async function lines(path: string): Promise<unknown[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

describe('http_poll in a job', () => {
  it('polls pages into a file, dead-letters a malformed record, and resumes after a restart', async () => {
    const list = new PagedList();
    list.add(rows(0, 12));
    list.add(['not a record']);
    list.add(rows(12, 30));
    const token = `token-${process.pid}`;
    process.env.HTTP_POLL_JOB_TOKEN = token;
    server = await startApi((req) =>
      req.headers.authorization === `Bearer ${token}` ? list.reply(req) : { status: 401, body: 'who?' },
    );
    const dir = await h.dir();
    const yaml = `
name: http-poll-job
settings: { checkpoint: { interval: 1h, dir: ./ckpt }, batch_size: 7 }
sources:
  api:
    type: http_poll
    url: ${server.url}/records
    headers: { authorization: "Bearer \${HTTP_POLL_JOB_TOKEN}" }
    interval: 100ms
    pagination: { type: page, size_param: per_page, size: 10 }
    incremental: { field: seq, param: since }
sinks:
  out: { type: file, path: ./out.jsonl }
dead_letter: { type: file, path: ./dead.jsonl }
`;
    const first = await Job.create(planFrom(yaml, dir, registry), { registry });
    const firstRun = h.run(first);
    await waitFor('the first 31 inputs', () => first.metrics().recordsIn >= 31, 10_000);
    first.stop();
    const result = await firstRun;
    assert.equal(result.metrics.sources.api?.in, 31);
    assert.equal(result.metrics.sources.api?.dead, 1);

    list.add(rows(30, 45));
    const second = await Job.create(planFrom(yaml, dir, registry), { registry });
    const secondRun = h.run(second);
    await waitFor('the 15 new records', () => second.metrics().recordsIn >= 15, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    second.stop();
    await secondRun;

    const out = (await lines(join(dir, 'out.jsonl'))) as Row[];
    assert.deepEqual(
      out.map((r) => r.id),
      rows(0, 45).map((r) => r.id),
      'every record once, in order, across the restart',
    );
    const dead = (await lines(join(dir, 'dead.jsonl'))) as { step?: string; message?: string }[];
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.step, 'api');
    assert.match(String(dead[0]?.message), /not a JSON object/);
    const resumed = server.requests.filter((r) => r.url.searchParams.get('since') !== null);
    assert.ok(resumed.length > 0);
    assert.ok(
      resumed.every((r) => Number(r.url.searchParams.get('since')) >= 31),
      'the restarted job asks only for what is after the checkpoint',
    );
  });

  it('a permanent refusal fails the job with SOURCE_REFUSED naming the URL without its secrets', async () => {
    server = await startApi(() => ({ status: 401, body: 'bad token' }));
    const dir = await h.dir();
    const url = `${server.url.replace('http://', 'http://robot:pa55word@')}/records?api_key=KEY-7`;
    const yaml = `
name: http-poll-refused
settings: { checkpoint: { interval: 1h, dir: ./ckpt } }
sources:
  api: { type: http_poll, url: "${url}", headers: { x-token: TOKEN-8 } }
sinks:
  out: { type: file, path: ./out.jsonl }
`;
    const job = await Job.create(planFrom(yaml, dir, registry), { registry });
    const err = await h.run(job).then(
      () => assert.fail('the job should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SluiceError, String(err));
    assert.equal(err.code, 'SOURCE_REFUSED');
    assert.match(
      err.message,
      new RegExp(`GET ${server.url.replace(/\./g, '\\.')}/records: HTTP 401: bad token`),
    );
    for (const secret of ['pa55word', 'KEY-7', 'TOKEN-8']) assert.ok(!err.message.includes(secret), secret);
  });
});
