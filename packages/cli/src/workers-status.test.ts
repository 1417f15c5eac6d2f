/**
 * `sluice status` (issue 16) against the real broker and PostgreSQL: two `sluice run --worker-id`
 * workers share a 4-partition pipeline; status names both workers and every task, the lag drops
 * to 0 once the input is read, each task's state size is > 0; after one worker is SIGKILLed its
 * tasks show without a live owner (exit 4) until they move to the other worker (exit 0). Also
 * the errors for a pipeline no worker ran and for a store that does not exist, and the table
 * rendered from a status built by hand.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, type TestContext, test } from 'node:test';
import type { CheckpointSlot } from '@sluice/core';
import type { WorkerGroupDescription } from '@sluice/kafka';
import {
  KAFKA_BROKER,
  kafkaAvailable,
  type ProducedRecord,
  produce,
  Topics,
  uniqueName,
} from '@sluice/kafka/testing';
import { PostgresCheckpointStore } from '@sluice/postgres';
import { PG_URL, postgresMissing } from '@sluice/postgres/testing';
import { Cli, runCli, tempDir, waitUntil } from './cli-test-support.ts';
import { cleanUpPipeline, workerArgs } from './worker-test-support.ts';
import { buildStatus, NO_LIVE_OWNER_EXIT, renderStatus, type WorkersStatus } from './workers-status.ts';

const kafka = await kafkaAvailable();
const pgMissing = await postgresMissing();
const skip = !kafka ? 'kafka not reachable' : pgMissing;
const topics = new Topics();
after(() => topics.cleanup());

const PARTITIONS = 4;

function pipeline(input: string, group: string, name: string): string {
  return `
name: ${name}
settings:
  checkpoint: { interval: 500ms, dir: ./.sluice }
sources:
  in:
    type: kafka
    brokers: ['${KAFKA_BROKER}']
    topics: ['${input}']
    group_id: '${group}'
    include_metadata: false
    session_timeout: 15s
    heartbeat_interval: 500ms
    event_time: { field: ts, max_out_of_orderness: 0s }
steps:
  - id: counts
    type: aggregate
    input: in
    key: [account]
    window: { type: tumbling, size: 1h }
    fields:
      n: count(*)
sinks:
  out: { type: stdout, input: counts }
`;
}

function records(n: number): ProducedRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    partition: i % PARTITIONS,
    value: JSON.stringify({ account: `u${i % 40}`, ts: 1_767_225_600_000 + i }),
  }));
}

/** Runs `sluice status` in `dir`; parses its JSON when it printed some. */
async function status(dir: string, store = PG_URL) {
  const r = await runCli(['status', 'pipeline.yaml', '--checkpoint-store', store, '--format', 'json'], dir);
  const json = r.stdout.startsWith('{') ? (JSON.parse(r.stdout) as WorkersStatus) : undefined;
  return { code: r.code, json, stderr: r.stderr };
}

function startWorker(t: TestContext, dir: string, id: string): Cli {
  const cli = new Cli(workerArgs(id), { cwd: dir, limitMs: 120_000 });
  t.after(() => cli.kill('SIGKILL'));
  return cli;
}

test('status of two workers: both named, every partition, lag down to 0, state sizes; a SIGKILLed worker’s tasks have no live owner until they move', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const input = await topics.create('status-in', PARTITIONS);
  const group = uniqueName('status-g');
  const name = `sluice_status_${process.pid}_${Date.now().toString(36)}`;
  cleanUpPipeline(t, name);
  const dir = await tempDir(t, 'sluice-status-');
  await writeFile(join(dir, 'pipeline.yaml'), pipeline(input, group, name));

  // No worker has run the pipeline yet: neither the group nor the store knows it. (The store's
  // tables exist — some worker used the store before, as another test file's may have or not.)
  const other = new PostgresCheckpointStore({
    url: PG_URL,
    pipeline: `${name}_other`,
    slot: 'tasks/0',
    owner: 'x',
    keep: 1,
  });
  await other.prepare();
  await other.close();
  cleanUpPipeline(t, `${name}_other`);
  const none = await status(dir);
  assert.equal(none.code, 1, none.stderr);
  assert.match(none.stderr, /no worker of pipeline '.*' is known: the consumer group '.*' does not exist/);

  await produce(input, records(400));
  const w1 = startWorker(t, dir, 'w1');
  const w2 = startWorker(t, dir, 'w2');
  const logs = () => `--- w1\n${w1.stderr.slice(-3000)}\n--- w2\n${w2.stderr.slice(-3000)}`;

  let last: Awaited<ReturnType<typeof status>> | undefined;
  const until = (what: string, ok: (s: WorkersStatus, code: number | null) => boolean, ms = 60_000) =>
    waitUntil(
      async () => {
        last = await status(dir);
        return last.json !== undefined && ok(last.json, last.code);
      },
      ms,
      what,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nlast status: ${JSON.stringify(last)}\n${logs()}`);
    });

  await until(
    'both workers running every task, the input read (lag 0) and checkpointed',
    (s, code) =>
      code === 0 &&
      s.tasks.length === PARTITIONS &&
      s.tasks.every((task) => task.state === 'running' && task.lagTotal === 0) &&
      s.workers.filter((w) => w.inGroup && w.tasks.length > 0).length === 2,
  );
  const running = last!.json!;
  assert.deepEqual(
    running.workers.map((w) => w.worker),
    ['w1', 'w2'],
  );
  assert.deepEqual(running.unowned, []);
  assert.deepEqual(
    running.workers.flatMap((w) => w.partitions).sort(),
    [0, 1, 2, 3],
    'the group assigned every partition once',
  );
  for (const task of running.tasks) {
    assert.equal(task.owner, task.assignedTo, `task ${task.task} is held by the worker it is assigned to`);
    assert.ok(task.stateBytes > 0, `task ${task.task} has state`);
    assert.ok(task.checkpoint !== null && task.checkpoint.id > 0);
    assert.deepEqual(task.lag, { [`${input}/${task.task}`]: 0 });
  }

  // The readable table names both workers and every task.
  const table = await runCli(['status', 'pipeline.yaml', '--checkpoint-store', PG_URL], dir);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^WORKER\s+GROUP\s+HOST\s+PARTITIONS\s+TASKS\s+LAG\s+STATE$/m);
  assert.match(table.stdout, /^w1\s+member\s/m);
  assert.match(table.stdout, /^w2\s+member\s/m);
  for (let p = 0; p < PARTITIONS; p++)
    assert.match(table.stdout, new RegExp(`^${p}\\s+w[12]\\s+w[12]\\s+running\\s`, 'm'));
  assert.match(table.stdout, /every task has a live owner/);

  // w2 dies without releasing anything, and records keep coming: once its lease (3 s) ran out
  // its tasks have no live owner and fall behind by exactly what was written to their partitions,
  // until the group (session_timeout 15 s) hands them to w1, which takes them over and reads it.
  const lost = running.tasks.filter((task) => task.owner === 'w2').map((task) => task.task);
  w2.kill('SIGKILL');
  await w2.exited;
  await produce(input, records(400));
  await until(
    "w2's tasks without a live owner, 100 records behind each",
    (s, code) =>
      code === NO_LIVE_OWNER_EXIT &&
      lost.every(
        (p) =>
          s.tasks[p].state === 'lease expired' && s.tasks[p].owner === 'w2' && s.tasks[p].lagTotal === 100,
      ) &&
      s.unowned.join() === lost.join(),
    30_000,
  );
  const orphaned = await runCli(['status', 'pipeline.yaml', '--checkpoint-store', PG_URL], dir);
  t.diagnostic(`after the SIGKILL (exit ${orphaned.code}):\n${orphaned.stdout}`);
  if (orphaned.code === NO_LIVE_OWNER_EXIT) {
    assert.match(orphaned.stdout, /lease expired/);
    assert.match(orphaned.stdout, new RegExp(`without a live owner: ${lost.join(', ')}`));
  }
  await until(
    "w2's tasks moved to w1, the new records read",
    (s, code) =>
      code === 0 &&
      s.tasks.every((task) => task.owner === 'w1' && task.state === 'running' && task.lagTotal === 0),
  );
  assert.deepEqual(
    last!.json!.workers.map((w) => [w.worker, w.inGroup, w.tasks]),
    [['w1', true, [0, 1, 2, 3]]],
    'w2 left the group',
  );
  assert.ok(w1.alive, logs());
});

test('status errors: a store that does not exist, a usage error', { skip }, async (t) => {
  const input = await topics.create('status-err', 1);
  const dir = await tempDir(t, 'sluice-status-');
  await writeFile(
    join(dir, 'pipeline.yaml'),
    pipeline(input, uniqueName('status-err-g'), 'sluice_status_err'),
  );
  const missing = await status(dir, PG_URL.replace(/\/[^/]*$/, '/sluice_no_such_database'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /checkpoint store postgres:\/\/.*sluice_no_such_database: .*does not exist/);
  const usage = await runCli(
    ['status', 'pipeline.yaml', '--checkpoint-store', PG_URL, '--format', 'xml'],
    dir,
  );
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--format must be table or json/);
});

test('the table shows each task state, lease, lag and state size', () => {
  const group: WorkerGroupDescription = {
    group: 'g',
    state: 'Stable',
    taskTopic: 'in',
    topics: ['in'],
    repartitionTopics: [],
    partitions: 3,
    members: [
      {
        workerId: 'a',
        memberId: 'm-a',
        instanceId: 'x',
        clientId: 'sluice',
        clientHost: '/10.0.0.1',
        partitions: [0, 2],
      },
    ],
    endOffsets: new Map([
      ['in/0', 100],
      ['in/1', 50],
      ['in/2', 7],
    ]),
  };
  const now = Date.UTC(2026, 11, 7, 12);
  const checkpoint = (id: number, offset: number) => ({
    id,
    writtenAt: now - 1500,
    bytes: 2048,
    createdAt: now - 1500,
    sources: { in: { consumer: { [`in/${id}`]: offset } } },
  });
  const slots: CheckpointSlot[] = [
    {
      slot: 'tasks/0',
      owner: 'a',
      epoch: 2,
      released: false,
      leaseUntil: now + 8000,
      held: true,
      checkpoint: checkpoint(0, 90),
    },
    {
      slot: 'tasks/1',
      owner: 'b',
      epoch: 1,
      released: false,
      leaseUntil: now - 4000,
      held: false,
      checkpoint: checkpoint(1, 50),
    },
  ];
  const s = buildStatus('p', group, slots, now);
  assert.deepEqual(
    s.tasks.map((task) => [task.task, task.state, task.live, task.lagTotal]),
    [
      [0, 'running', true, 10],
      [1, 'lease expired', false, 0],
      [2, 'not started', false, null],
    ],
  );
  assert.deepEqual(s.unowned, [1, 2]);
  assert.deepEqual(
    s.workers.map((w) => [w.worker, w.inGroup, w.partitions, w.tasks, w.lag, w.stateBytes]),
    [['a', true, [0, 2], [0], 10, 2048]],
  );
  const text = renderStatus(s);
  assert.match(text, /^a\s+member\s+\/10\.0\.0\.1\s+0,2\s+0\s+10\s+2\.0 kB$/m);
  assert.match(text, /^0\s+a\s+a\s+running\s+2\s+8\.0s\s+#0\s+1\.5s\s+10\s+2\.0 kB\s+0$/m);
  assert.match(text, /^1\s+-\s+b\s+lease expired\s+1\s+ran out 4\.0s ago\s+#1\s+1\.5s\s+0\s+2\.0 kB\s+0$/m);
  assert.match(text, /^2\s+a\s+-\s+not started\s+0\s+-\s+-\s+-\s+-\s+-\s+0$/m);
  assert.match(text, /lease expired: its owner was killed or is stuck/);
  assert.match(text, /2 tasks without a live owner: 1, 2/);
  const stopped = renderStatus(buildStatus('p', { ...group, state: 'Empty', members: [] }, slots, now));
  assert.match(stopped, /no worker is in the group \(Empty\)/);
  const elsewhere = renderStatus(buildStatus('p', group, [], now));
  assert.match(elsewhere, /the store has no task of this pipeline/);
});

test("a regrouping pipeline's downstream parts: their own slots, lag on the repartition topic, restarts", () => {
  const group: WorkerGroupDescription = {
    group: 'g',
    state: 'Stable',
    taskTopic: 'in',
    topics: ['in'],
    repartitionTopics: ['p-counts-repartition'],
    partitions: 2,
    members: [
      {
        workerId: 'a',
        memberId: 'm-a',
        instanceId: 'x',
        clientId: 's',
        clientHost: '/h',
        partitions: [0, 1],
      },
    ],
    endOffsets: new Map([
      ['in/0', 10],
      ['in/1', 10],
      ['p-counts-repartition/0', 40],
      ['p-counts-repartition/1', 30],
    ]),
  };
  const now = Date.UTC(2026, 11, 7, 12);
  const slot = (
    name: string,
    held: boolean,
    sources: { [id: string]: { [p: string]: unknown } },
    restarts = 0,
  ) => ({
    slot: name,
    owner: 'a',
    epoch: 1,
    released: !held,
    leaseUntil: now + 5000,
    held,
    checkpoint: { id: 3, writtenAt: now - 1000, bytes: 100, createdAt: now - 1000, sources, restarts },
  });
  // The downstream part's reader keeps its offsets under `offsets`, beside each producer's marker.
  const after = (task: number, offset: number) => ({
    counts: {
      [String(task)]: { offsets: { [`p-counts-repartition/${task}`]: offset }, producers: { '0': 5 } },
    },
  });
  const slots: CheckpointSlot[] = [
    slot('tasks/0', true, { in: { consumer: { 'in/0': 10 } } }),
    slot('tasks/0/after-counts', true, after(0, 35), 2),
    slot('tasks/1', true, { in: { consumer: { 'in/1': 10 } } }),
    slot('tasks/1/after-counts', false, after(1, 30)),
  ];
  const s = buildStatus('p', group, slots, now);
  assert.deepEqual(
    s.tasks.map((t) => [t.task, t.lagTotal, t.parts.map((p) => [p.part, p.state, p.lag, p.restarts])]),
    [
      [0, 0, [['after-counts', 'running', { 'p-counts-repartition/0': 5 }, 2]]],
      [1, 0, [['after-counts', 'released', { 'p-counts-repartition/1': 0 }, 0]]],
    ],
  );
  assert.deepEqual(s.unowned, [1], "task 1's downstream part has no live owner");
  assert.deepEqual(
    s.workers.map((w) => [w.worker, w.tasks, w.lag, w.stateBytes]),
    [['a', [0, 1], 5, 300]],
  );
  const text = renderStatus(s);
  assert.match(text, /^0\/after-counts\s+a\s+a\s+running\s+1\s+5\.0s\s+#3\s+1\.0s\s+5\s+100 B\s+2$/m);
  assert.match(text, /^1\/after-counts\s+a\s+a\s+released\s+1\s+released\s+#3\s+1\.0s\s+0\s+100 B\s+0$/m);
});
