/**
 * `delivery: exactly_once` against the real server: what a server without prepared transactions
 * is told, and — on a server that allows them — rows published only at checkpoints, a
 * never-completed checkpoint's transaction rolled back by the restart, refused rows inside the
 * transaction, and a connection lost with a transaction open failing the write at once.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Sink, SluiceError } from '@sluice/core';
import { postgresSink } from './sink-spec.ts';
import {
  batchOf,
  keptLines,
  PG_URL,
  postgresMissing,
  preparedUnavailable,
  REPO_ROOT,
  sinkConfig,
  TestSchema,
} from './test-support.ts';

const skip = (await postgresMissing()) ?? false;
const noPrepared = skip ? undefined : await preparedUnavailable();
const schema = new TestSchema();
const sinks: Sink[] = [];
after(async () => {
  for (const sink of sinks) await sink.abort?.();
  await schema.drop();
});

/** A sink of pipeline `job` restoring `restored`, opened; its id (and connection's application name) is `id`. */
async function opened(options: { [option: string]: unknown }, job: string, restored?: unknown, id = 'out') {
  const sink = postgresSink.create(sinkConfig({ delivery: 'exactly_once', ...options }));
  sinks.push(sink);
  const { log } = keptLines();
  await sink.open({
    id,
    pipeline: job,
    restored,
    clock: { now: () => Date.now() },
    baseDir: REPO_ROOT,
    signal: new AbortController().signal,
    log,
  });
  return sink;
}

const prepared = (prefix: string) =>
  schema.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, $1) ORDER BY gid', [
    prefix,
  ]);

let jobs = 0;
const jobName = () => `eo-${process.pid}-${jobs++}`;

describe('postgres sink, exactly_once', { skip }, () => {
  test('a server without prepared transactions is refused at open, saying how to allow them', async (t) => {
    if (!noPrepared) return t.skip('this server allows prepared transactions');
    const table = schema.table();
    await schema.query(`CREATE TABLE ${table} (id integer)`);
    await assert.rejects(opened({ url: PG_URL, table }, jobName()), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.path, 'delivery');
      assert.match(err.message, /max_prepared_transactions = 0/);
      assert.match(err.message, /restart the server — or use `delivery: at_least_once`/);
      return true;
    });
  });

  describe('on a server with prepared transactions', { skip: noPrepared ?? false }, () => {
    test('rows appear at the checkpoint; a restart rolls back what a never-completed checkpoint prepared', async () => {
      const table = schema.table();
      await schema.query(`CREATE TABLE ${table} (id integer NOT NULL)`);
      const job = jobName();
      const count = async () =>
        (await schema.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0].n;
      const first = await opened({ url: PG_URL, table }, job);
      await first.write(batchOf([{ id: 1 }, { id: 2 }]));
      assert.equal(await count(), 0, 'nothing is visible before the checkpoint');
      const state1 = await first.prepareCommit?.(1);
      await first.commit?.(1);
      assert.equal(await count(), 2);
      const rejected = await first.write(batchOf([{ id: 3 }, { id: null }, { id: 4 }]));
      assert.deepEqual(
        rejected?.map((r) => r.index),
        [1],
        'a refused row inside the transaction',
      );
      // Checkpoint 2 is prepared, but the job dies before it is durable.
      await first.prepareCommit?.(2);
      await first.abort?.();
      assert.equal((await prepared(`sluice/${job}/`)).length, 1, 'checkpoint 2’s transaction stays prepared');
      const second = await opened({ url: PG_URL, table }, job, state1);
      assert.deepEqual(await prepared(`sluice/${job}/`), [], 'the restart rolled it back');
      assert.equal(await count(), 2, 'checkpoint 2’s rows are not published');
      await second.write(batchOf([{ id: 3 }, { id: 4 }]));
      await second.close();
      const ids = await schema.query(`SELECT id FROM ${table} ORDER BY id`);
      assert.deepEqual(
        ids,
        [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }],
        'the replay wrote each once; close published it',
      );
    });

    test('a connection lost with a transaction open fails the write at once, without retrying', async () => {
      const table = schema.table();
      await schema.query(`CREATE TABLE ${table} (id integer)`);
      const id = `out_${process.pid}_${jobs}`;
      const sink = await opened(
        { url: PG_URL, table, retry: { initial_backoff: '10ms' } },
        jobName(),
        undefined,
        id,
      );
      await sink.write(batchOf([{ id: 1 }]));
      await schema.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'`,
        [`sluice ${id}`],
      );
      await assert.rejects(sink.write(batchOf([{ id: 2 }])), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'SINK_UNAVAILABLE');
        return true;
      });
      await sink.abort?.();
      assert.deepEqual(
        await schema.query(`SELECT id FROM ${table}`),
        [],
        'nothing of the lost transaction is published',
      );
    });
  });
});
