/**
 * A worker's task that fails transiently is restarted from its last checkpoint while the worker's
 * other task runs on (issue 16): a pipeline of kafka (two partitions) → one-second tumbling counts
 * per account → an HTTP endpoint served here, which answers 503 to the first requests carrying
 * account u0's windows (task 0), more often than the sink's own retries try. Task 0 fails, is
 * restarted twice and then delivers; task 1 is never stopped; the windows received equal the
 * counts computed here from the records produced (the sink is at-least-once, so a window may come
 * twice, always with the same count); an exactly-once Kafka copy of the input beside it has every
 * record once under read_committed; and `sluice status` shows task 0's restarts.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import {
  consoleConsume,
  KAFKA_BROKER,
  kafkaAvailable,
  type ProducedRecord,
  produce,
  Topics,
  uniqueName,
} from '@sluice/kafka/testing';
import { PG_URL, postgresMissing } from '@sluice/postgres/testing';
import { Cli, runCli, tempDir, waitUntil } from './cli-test-support.ts';
import { cleanUpPipeline, workerArgs } from './worker-test-support.ts';

const kafka = await kafkaAvailable();
const skip = !kafka ? 'kafka not reachable' : await postgresMissing();
const topics = new Topics();
after(() => topics.cleanup());

const USERS = 6;
const PER_USER = 80;
const T0 = 1_767_225_600_000;
/** Requests carrying u0's windows answered 503 before one is taken: 5, so (the sink trying twice a run) task 0 fails twice, then delivers. */
const REFUSALS = 5;

/** User `u` on partition `u % 2`, its i-th record at T0 + floor(i / 4) s; then one record per partition closing every window. */
function records(): ProducedRecord[] {
  const out: ProducedRecord[] = [];
  for (let i = 0; i < PER_USER; i++) {
    for (let u = 0; u < USERS; u++) {
      out.push({
        partition: u % 2,
        key: `u${u}`,
        value: JSON.stringify({ account: `u${u}`, ts: T0 + Math.floor(i / 4) * 1000 + (i % 4) }),
      });
    }
  }
  for (const partition of [0, 1]) {
    const ts = T0 + 3_600_000;
    out.push({
      partition,
      key: `end${partition}`,
      value: JSON.stringify({ account: `end${partition}`, ts }),
    });
  }
  return out;
}

/** The counts a plain loop gives: `account/window_start` → count (the closing records' windows never fire). */
function expectedCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < PER_USER; i++) {
    for (let u = 0; u < USERS; u++) {
      const k = `u${u}/${T0 + Math.floor(i / 4) * 1000}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * Kafka `input` (two partitions) → one-second counts per account → the HTTP endpoint on `port`
 * (two tries a run), beside an exactly-once Kafka copy of the input to `output`.
 */
function pipeline(name: string, input: string, output: string, port: number): string {
  return `
name: ${name}
settings:
  checkpoint: { interval: 200ms, dir: ./.sluice }
  batch_size: 40
sources:
  in:
    type: kafka
    brokers: ['${KAFKA_BROKER}']
    topics: ['${input}']
    group_id: '${uniqueName('restart-g')}'
    include_metadata: false
    session_timeout: 6s
    heartbeat_interval: 500ms
    event_time: { field: ts, max_out_of_orderness: 0s }
steps:
  - id: counts
    type: aggregate
    input: in
    key: [account]
    window: { type: tumbling, size: 1s }
    fields:
      n: count(*)
sinks:
  out:
    type: http
    input: counts
    url: http://127.0.0.1:${port}/windows
    batch_size: 10
    retry: { max_attempts: 2, initial_backoff: 10ms, max_backoff: 20ms }
  copy:
    type: kafka
    input: in
    brokers: ['${KAFKA_BROKER}']
    topic: '${output}'
    key: account
    delivery: exactly_once
`;
}

test('a task whose sink fails transiently restarts from its checkpoint; the other task runs on; nothing is lost', {
  skip,
  timeout: 300_000,
}, async (t) => {
  const received = new Map<string, number>();
  const conflicts: string[] = [];
  let refused = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (s: string) => {
      body += s;
    });
    req.on('end', () => {
      const rows = JSON.parse(body) as { account: string; window_start: number; n: number }[];
      if (rows.some((r) => r.account === 'u0') && refused < REFUSALS) {
        refused++;
        res.writeHead(503).end('down for a moment');
        return;
      }
      for (const r of rows) {
        const k = `${r.account}/${r.window_start}`;
        const before = received.get(k);
        if (before !== undefined && before !== r.n) conflicts.push(`${k}: ${before} then ${r.n}`);
        received.set(k, r.n);
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;

  const dir = await tempDir(t);
  const [input, output] = await Promise.all([
    topics.create('worker-restart-in', 2),
    topics.create('worker-restart-out', 2),
  ]);
  const name = uniqueName('restart').replace(/-/g, '_');
  cleanUpPipeline(t, name);
  await writeFile(`${dir}/pipeline.yaml`, pipeline(name, input, output, port));
  await produce(input, records());
  const worker = new Cli([...workerArgs('w1'), '--restart-backoff', '200ms,1s'], {
    cwd: dir,
    limitMs: 280_000,
  });
  t.after(() => worker.child.kill('SIGKILL'));
  const expected = expectedCounts();
  await waitUntil(
    () => received.size >= expected.size || !worker.alive,
    200_000,
    'every window delivered',
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${worker.stderr.slice(-6000)}`);
  });
  assert.ok(worker.alive, `the worker ended:\n${worker.stderr.slice(-4000)}`);
  assert.equal(refused, REFUSALS);
  assert.deepEqual(new Map([...received].sort()), new Map([...expected].sort()));
  assert.deepEqual(conflicts, [], 'a window delivered again has the same count');

  const lines = worker.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; task?: number; restart?: number; worker?: string });
  const restarts = lines.filter((l) => l.msg === 'restarting from the last checkpoint after a failure');
  assert.deepEqual(
    restarts.map((l) => [l.task, l.restart]),
    [
      [0, 1],
      [0, 2],
    ],
  );
  assert.equal(
    lines.filter((l) => l.msg === 'worker: task stopped' && l.task === 1).length,
    0,
    'task 1 ran on while task 0 restarted',
  );

  // The exactly-once copy of the input: the failed runs' transactions were aborted, so
  // read_committed sees every record once.
  const produced = records().map((r) => String(r.value));
  const copied = await consoleConsume(output, {
    isolation: 'read_committed',
    maxMessages: produced.length * 3,
    atLeast: produced.length,
    idleMs: 5_000,
  });
  const seen = new Map<string, number>();
  for (const r of copied) seen.set(r.value ?? '', (seen.get(r.value ?? '') ?? 0) + 1);
  assert.deepEqual(
    {
      missing: produced.filter((v) => !seen.has(v)).length,
      twice: [...seen].filter(([, n]) => n > 1).length,
      records: copied.length,
    },
    { missing: 0, twice: 0, records: produced.length },
  );

  // The restart count reaches the store with task 0's next checkpoint.
  await waitUntil(
    async () => {
      const status = await runCli(
        ['status', 'pipeline.yaml', '--checkpoint-store', PG_URL, '--format', 'json'],
        dir,
      );
      const s = JSON.parse(status.stdout || '{}') as { tasks?: { task: number; restarts: number }[] };
      return (
        s.tasks?.find((x) => x.task === 0)?.restarts === 2 &&
        s.tasks?.find((x) => x.task === 1)?.restarts === 0
      );
    },
    30_000,
    'sluice status shows task 0 restarted twice',
  );
  worker.kill('SIGTERM');
  const end = await worker.exited;
  assert.equal(end.code, 0, end.stderr.slice(-3000));
});

test('a task that keeps failing past --restart-attempts fails the worker, saying so (exit 1)', {
  skip,
  timeout: 180_000,
}, async (t) => {
  const server = createServer((req, res) => {
    req.resume().on('end', () => res.writeHead(503).end('down'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const dir = await tempDir(t);
  const [input, output] = await Promise.all([
    topics.create('worker-giveup-in', 2),
    topics.create('worker-giveup-out', 2),
  ]);
  const name = uniqueName('giveup').replace(/-/g, '_');
  cleanUpPipeline(t, name);
  await writeFile(
    `${dir}/pipeline.yaml`,
    pipeline(name, input, output, (server.address() as AddressInfo).port),
  );
  await produce(input, records());
  const r = await runCli(
    [...workerArgs('w1'), '--restart-attempts', '1', '--restart-backoff', '100ms'],
    dir,
    150_000,
  );
  assert.equal(r.code, 1, r.stderr.slice(-3000));
  assert.match(r.stderr, /SINK_UNAVAILABLE/);
  assert.match(r.stderr, /failed 2 times in a row; giving up after 1 restarts/);
});
