/**
 * `sluice run --worker-id ID --threads 2` against the real broker and PostgreSQL (issue 16): one
 * process is two members of the workers' group, `ID.0` and `ID.1`, one per worker thread. Kafka
 * spreads the four partitions over them; the windowed counts in the table equal an independent
 * count; `sluice status` names both members; SIGTERM stops both threads gracefully, so every task
 * releases its checkpoint slot.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { kafkaAvailable, type ProducedRecord, produce, Topics, uniqueName } from '@sluice/kafka/testing';
import { PG_URL, pgQuery, postgresMissing } from '@sluice/postgres/testing';
import { Cli, runCli, tempDir, waitUntil } from './cli-test-support.ts';
import { cleanUpPipeline, runningTasks, windowCountsPipeline, workerArgs } from './worker-test-support.ts';
import type { WorkersStatus } from './workers-status.ts';

const kafka = await kafkaAvailable();
const pgMissing = await postgresMissing();
const skip = !kafka ? 'kafka not reachable' : pgMissing;
const topics = new Topics();
after(() => topics.cleanup());

const PARTITIONS = 4;
const USERS = 12;
const PER_USER = 80;
const T0 = 1_767_225_600_000;

test('--threads 2: one process runs every partition over two members; the windows equal an independent count; SIGTERM releases every slot', {
  skip,
  timeout: 180_000,
}, async (t) => {
  const input = await topics.create('threads-in', PARTITIONS);
  const table = `sluice_threads_${process.pid}_${Date.now().toString(36)}`;
  cleanUpPipeline(t, table, [table]);
  const dir = await tempDir(t, 'sluice-threads-');
  await writeFile(join(dir, 'pipeline.yaml'), windowCountsPipeline(input, uniqueName('threads-g'), table));
  const cli = new Cli(workerArgs('p1', 2), { cwd: dir, limitMs: 170_000 });
  t.after(() => cli.child.kill('SIGKILL'));
  const withLogs = (err: unknown): never => {
    throw new Error(`${(err as Error).message}\n${cli.stderr.slice(-6000)}`);
  };
  /** The tasks each member (thread) of the process runs now, from the log. */
  const running = () => runningTasks(cli.stderr);
  await waitUntil(
    () => {
      const r = running();
      const all = [...r.values()].flatMap((s) => [...s]);
      return (
        (r.get('p1.0')?.size ?? 0) > 0 && (r.get('p1.1')?.size ?? 0) > 0 && new Set(all).size === PARTITIONS
      );
    },
    90_000,
    'the four tasks running, spread over the threads p1.0 and p1.1',
  ).catch(withLogs);

  const produced: ProducedRecord[] = [];
  const expected = new Map<string, number>();
  for (let i = 0; i < PER_USER; i++) {
    for (let u = 0; u < USERS; u++) {
      const start = T0 + Math.floor(i / 4) * 1000;
      produced.push({
        partition: u % PARTITIONS,
        key: `u${u}`,
        value: JSON.stringify({ account: `u${u}`, ts: start + (i % 4) }),
      });
      expected.set(`u${u}/${start}`, (expected.get(`u${u}/${start}`) ?? 0) + 1);
    }
  }
  // One record per partition far ahead in event time closes every window of the input.
  for (let p = 0; p < PARTITIONS; p++) {
    produced.push({ partition: p, value: JSON.stringify({ account: `end${p}`, ts: T0 + 3_600_000 }) });
  }
  await produce(input, produced);
  const actual = async () => {
    const m = new Map<string, number>();
    try {
      const rows = await pgQuery<{ account: string; window_start: string; n: string }>(
        `SELECT * FROM ${table}`,
      );
      for (const r of rows)
        if (!r.account.startsWith('end')) m.set(`${r.account}/${r.window_start}`, Number(r.n));
    } catch {
      // the table is not created yet
    }
    return m;
  };
  await waitUntil(
    async () => {
      const got = await actual();
      return got.size === expected.size && [...expected].every(([k, n]) => got.get(k) === n);
    },
    90_000,
    'every window count in the table',
  ).catch(withLogs);

  // `sluice status` shows the threads as the group's members.
  const status = await runCli(
    ['status', 'pipeline.yaml', '--checkpoint-store', PG_URL, '--format', 'json'],
    dir,
  );
  const json = JSON.parse(status.stdout) as WorkersStatus;
  assert.deepEqual(
    json.workers.filter((w) => w.inGroup).map((w) => w.worker),
    ['p1.0', 'p1.1'],
    status.stdout,
  );

  cli.child.kill('SIGTERM');
  const r = await cli.exited;
  assert.equal(r.code, 0, `the process stops cleanly on SIGTERM:\n${r.stderr.slice(-3000)}`);
  for (const id of ['p1.0', 'p1.1']) {
    assert.match(r.stderr, new RegExp(`"msg":"worker stopped".*"worker":"${id.replace('.', '\\.')}"`));
  }
  const owners = await pgQuery<{ slot: string; owner: string; released: boolean }>(
    'SELECT slot, owner, released FROM sluice_checkpoints_owners WHERE pipeline = $1 ORDER BY slot',
    [table],
  );
  assert.equal(owners.length, PARTITIONS, 'one checkpoint slot per task');
  for (const o of owners) {
    assert.match(o.owner, /^p1\.[01]$/, `${o.slot} was held by a thread`);
    assert.equal(o.released, true, `${o.slot} is released after SIGTERM`);
  }
});
