/**
 * The `postgres` sink against the real server: values round-trip through COPY and INSERT,
 * changelogs fold in order, refused rows are found and the rest written, setup errors are
 * clear, a broken connection is retried, a restart converges, and secrets stay out of errors.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  DELETE,
  INSERT,
  type Row,
  type RowKind,
  type Sink,
  type SinkRejection,
  SluiceError,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '@sluice/core';
import { postgresSink } from './sink-spec.ts';
import {
  abortSinks,
  batchOf,
  keptLines,
  openSink,
  PG_URL,
  postgresMissing,
  sinkConfig,
  sinkContext,
  TestSchema,
} from './test-support.ts';

const skip = (await postgresMissing()) ?? false;
const schema = new TestSchema();
after(async () => {
  await abortSinks();
  await schema.drop();
});

/** The error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<SluiceError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SluiceError, `a SluiceError: ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

describe('postgres sink', { skip }, () => {
  test('append: values of every kind round-trip through COPY, special characters included', async () => {
    const table = schema.table();
    await schema.query(
      `CREATE TABLE ${table} (id bigint, s text, f double precision, b boolean, j jsonb, a text[], ts timestamptz, n integer)`,
    );
    const sink = await openSink({ url: PG_URL, table, batch_size: 2 });
    const at = new Date(Date.UTC(2026, 11, 6, 13, 0, 0));
    const records: Row[] = [
      {
        id: 1,
        s: 'tab\there, new\nline, back\\slash, cr\r',
        f: 1.5,
        b: true,
        j: { x: [1, 'y'] },
        a: ['p', 'q"r', 'a\\b'],
        ts: at.toISOString(),
        n: null,
      },
      { id: 2n ** 40n, s: '', f: Number.NaN, b: false, j: [1, 2], a: [], ts: at, extra: 'not a column' },
      { id: 3, s: 'ünïcødé ✓', f: -0.25, j: '{"k": "JSON text"}', a: ['x', null] },
    ];
    assert.equal(await sink.write(batchOf(records)), undefined);
    await sink.close();
    const rows = await schema.query(
      `SELECT id::text, s, f, b, j, a, ts, n FROM ${table} ORDER BY ${table}.id`,
    );
    assert.deepEqual(rows, [
      {
        id: '1',
        s: records[0].s,
        f: 1.5,
        b: true,
        j: { x: [1, 'y'] },
        a: ['p', 'q"r', 'a\\b'],
        ts: at,
        n: null,
      },
      {
        id: '3',
        s: 'ünïcødé ✓',
        f: -0.25,
        b: null,
        j: { k: 'JSON text' },
        a: ['x', null],
        ts: null,
        n: null,
      },
      { id: String(2n ** 40n), s: '', f: Number.NaN, b: false, j: [1, 2], a: [], ts: at, n: null },
    ]);
  });

  test('upsert: a changelog folds in order within and across batches', async () => {
    const table = schema.table();
    const sink = await openSink({
      url: PG_URL,
      table,
      mode: 'upsert',
      key: ['region', 'day'],
      create_table: true,
      columns: { region: 'text', day: 'integer', total: 'bigint' },
    });
    const r = (region: string, day: number, total: number): Row => ({ region, day, total });
    // Update pair; delete then insert; insert then delete; an update whose before is in the batch; a repeated key.
    assert.equal(
      await sink.write(
        batchOf(
          [
            r('eu', 1, 1),
            r('eu', 1, 1),
            r('eu', 1, 2),
            r('us', 1, 5),
            r('us', 1, 5),
            r('us', 1, 6),
            r('ap', 1, 7),
            r('ap', 1, 7),
            r('eu', 2, 1),
            r('eu', 2, 3),
          ],
          [INSERT, UPDATE_BEFORE, UPDATE_AFTER, INSERT, DELETE, INSERT, INSERT, DELETE, INSERT, INSERT],
        ),
      ),
      undefined,
    );
    const after1 = await schema.query(`SELECT region, day, total::int FROM ${table} ORDER BY region, day`);
    assert.deepEqual(after1, [
      { region: 'eu', day: 1, total: 2 },
      { region: 'eu', day: 2, total: 3 },
      { region: 'us', day: 1, total: 6 },
    ]);
    // A lone UPDATE_BEFORE retracts the row; a delete of a key not there does nothing.
    await sink.write(
      batchOf(
        [r('eu', 2, 3), r('eu', 1, 2), r('eu', 1, 9), r('zz', 9, 0)],
        [UPDATE_BEFORE, UPDATE_BEFORE, UPDATE_AFTER, DELETE],
      ),
    );
    await sink.close();
    const after2 = await schema.query(`SELECT region, day, total::int FROM ${table} ORDER BY region, day`);
    assert.deepEqual(after2, [
      { region: 'eu', day: 1, total: 9 },
      { region: 'us', day: 1, total: 6 },
    ]);
    const pk = await schema.query<{ def: string }>(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`,
      [table],
    );
    assert.deepEqual(pk, [{ def: 'PRIMARY KEY (region, day)' }], 'create_table made the key the primary key');
  });

  test('create_table from many sinks opening at once: every one opens (scaled-out tasks race to create)', async () => {
    await schema.query('SELECT 1'); // the schema exists
    const table = schema.table();
    const config = {
      url: PG_URL,
      table,
      create_table: true,
      columns: { id: 'bigint', s: 'text' },
    };
    // Eight sinks, each its own connection: PostgreSQL's IF NOT EXISTS alone lets some of them
    // fail on the catalogue's unique index (seen with six worker tasks).
    for (let round = 0; round < 3; round++) {
      const t = `${table}_${round}`;
      const sinks = await Promise.all(Array.from({ length: 8 }, () => openSink({ ...config, table: t })));
      await Promise.all(sinks.map((sink, i) => sink.write(batchOf([{ id: i, s: `from ${i}` }]))));
      await Promise.all(sinks.map((sink) => sink.close()));
      const rows = await schema.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t}`);
      assert.deepEqual(rows, [{ n: '8' }], `round ${round}: every sink wrote its row`);
    }
  });

  test('refused rows (wrong type, too long, NOT NULL) are dead-lettered with the reason; the rest is written', async () => {
    const table = schema.table();
    await schema.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, code varchar(3) NOT NULL)`);
    const good = (id: number): Row => ({ id, code: `c${id % 10}` });
    const records: Row[] = [];
    for (let i = 0; i < 40; i++) records.push(good(i));
    records[5] = { id: 'five', code: 'x' };
    records[17] = { id: 17, code: 'too long' };
    records[30] = { id: 30 };
    for (const mode of ['append', 'upsert'] as const) {
      await schema.query(`TRUNCATE ${table}`);
      const sink = await openSink({
        url: PG_URL,
        table,
        mode,
        ...(mode === 'upsert' ? { key: ['id'] } : {}),
      });
      // An append learns of a refusal after the write (the COPY stays open): at the close here.
      const rejected = refusals(records, await sink.write(batchOf(records)));
      await sink.close();
      rejected.push(...refusals(records, undefined, sink));
      assert.deepEqual(
        rejected?.map((r) => r.index),
        [5, 17, 30],
        mode,
      );
      assert.match(rejected?.[0].message ?? '', /invalid input syntax for type integer: "five"/);
      assert.match(rejected?.[1].message ?? '', /value too long for type character varying\(3\)/);
      assert.match(rejected?.[2].message ?? '', /null value in column "code".*violates not-null constraint/);
      const ids = (await schema.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).map(
        (r) => r.id,
      );
      assert.deepEqual(
        ids,
        records.map((_r, i) => i).filter((i) => ![5, 17, 30].includes(i)),
        `${mode}: every other row is written`,
      );
    }
  });

  test('at_least_once append: writes share one transaction and one COPY, committed at the checkpoint; a refused row is found there and the rest kept', async () => {
    const table = schema.table();
    await schema.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, code varchar(3) NOT NULL)`);
    const ids = async () =>
      (await schema.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).map((r) => r.id);
    const sink = await openSink({ url: PG_URL, table });
    assert.equal(
      await sink.write(
        batchOf([
          { id: 1, code: 'a' },
          { id: 2, code: 'b' },
        ]),
      ),
      undefined,
    );
    assert.deepEqual(await ids(), [], 'not committed before the checkpoint');
    const second = [
      { id: 3, code: 'c' },
      { id: 4, code: 'too long' },
      { id: 5, code: 'e' },
    ];
    assert.equal(
      await sink.write(batchOf(second)),
      undefined,
      'the write resolves before the server checked it',
    );
    await sink.write(batchOf([{ id: 6, code: 'f' }]));
    assert.deepEqual(await ids(), [], 'still nothing committed');
    assert.equal(await sink.prepareCommit?.(1), undefined);
    assert.deepEqual(await ids(), [1, 2, 3, 5, 6], 'committed at the checkpoint without the refused row');
    const late = sink.takeRejections?.() ?? [];
    assert.deepEqual(
      late.map((r) => r.record),
      [second[1]],
      'the refused row, from an earlier write',
    );
    assert.match(late[0].message, /value too long for type character varying\(3\)/);
    assert.equal(sink.takeRejections?.(), undefined, 'each refusal is taken once');
    await sink.write(batchOf([{ id: 7, code: 'g' }]));
    await sink.abort?.();
    assert.deepEqual(await ids(), [1, 2, 3, 5, 6], 'abort rolls back what no checkpoint covers');
  });

  test('upsert: when a key’s last change is refused, its earlier changes in the batch still apply', async () => {
    const table = schema.table();
    await schema.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, v varchar(3))`);
    const sink = await openSink({ url: PG_URL, table, mode: 'upsert', key: ['id'] });
    const rejected = await sink.write(
      batchOf(
        [
          { id: 1, v: 'a' },
          { id: 2, v: 'b' },
          { id: 1, v: 'a' },
          { id: 1, v: 'far too long' },
        ],
        [INSERT, INSERT, UPDATE_BEFORE, UPDATE_AFTER],
      ),
    );
    await sink.close();
    assert.deepEqual(
      rejected?.map((r) => r.index),
      [3],
    );
    // Applied in order without the refused change: insert 1, insert 2, retract 1.
    assert.deepEqual(await schema.query(`SELECT id, v FROM ${table} ORDER BY id`), [{ id: 2, v: 'b' }]);
  });

  test('restart: replaying the records after the checkpoint leaves an upsert table as one run would', async () => {
    const table = schema.table();
    const options = {
      url: PG_URL,
      table,
      mode: 'upsert',
      key: ['id'],
      create_table: true,
      columns: { id: 'integer', n: 'integer' },
    };
    const all = Array.from({ length: 30 }, (_v, i) => ({ id: i % 10, n: i }));
    const first = await openSink(options);
    await first.write(batchOf(all.slice(0, 12)));
    await first.write(batchOf(all.slice(12, 20))); // after the checkpoint: replayed below
    await first.abort?.();
    const second = await openSink(options);
    await second.write(batchOf(all.slice(12, 20)));
    await second.write(batchOf(all.slice(20)));
    await second.close();
    const rows = await schema.query(`SELECT id, n FROM ${table} ORDER BY id`);
    assert.deepEqual(
      rows,
      Array.from({ length: 10 }, (_v, id) => ({ id, n: 20 + id })),
    );
  });

  test('a connection the server drops between writes is opened again and the write goes through', async () => {
    const table = schema.table();
    await schema.query(`CREATE TABLE ${table} (id integer)`);
    const { log, lines } = keptLines();
    const sink = await openSink(
      { url: PG_URL, table, retry: { initial_backoff: '10ms', max_backoff: '50ms' } },
      log,
    );
    await sink.write(batchOf([{ id: 1 }]));
    const killed = await schema.query<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'sluice out' AND query LIKE $1`,
      [`%${table.split('.')[1]}%`],
    );
    assert.deepEqual(killed, [{ ok: true }], 'the sink’s connection was terminated');
    await sink.write(batchOf([{ id: 2 }, { id: 3 }]));
    await sink.close();
    assert.deepEqual(await schema.query(`SELECT id FROM ${table} ORDER BY id`), [
      { id: 1 },
      { id: 2 },
      { id: 3 },
    ]);
    assert.ok(
      lines.some((l) => /connection lost|retrying/.test(l)),
      'the lost connection is logged',
    );
  });

  test('nothing listening: retried with backoff, then SINK_UNAVAILABLE without the password', async () => {
    const secret = `pw-${process.pid}-secret`;
    const { log, lines } = keptLines();
    const sink = postgresSink.create(
      sinkConfig({
        url: `postgres://sluice:${secret}@127.0.0.1:1/test`,
        table: 't',
        retry: { max_attempts: 3, initial_backoff: '10ms', max_backoff: '20ms' },
      }),
    );
    const started = Date.now();
    const err = await failure(sink.open(sinkContext(log)));
    assert.equal(err.code, 'SINK_UNAVAILABLE');
    assert.match(err.message, /ECONNREFUSED/);
    assert.equal(
      lines.filter((l) => l.includes('retrying')).length,
      2,
      'two retries after the first attempt',
    );
    assert.ok(Date.now() - started < 5_000);
    for (const text of [err.message, err.stack ?? '', String(err.cause), ...lines])
      assert.ok(!text.includes(secret), `no secret in: ${text}`);
  });

  test('setup errors say what to fix: no table, no unique index on the key, create_table without columns', async () => {
    const missing = await failure(openSink({ url: PG_URL, table: `${schema.name}.nowhere` }));
    assert.equal(missing.code, 'CONFIG_INVALID');
    assert.equal(missing.path, 'table');
    assert.match(missing.message, /does not exist.*create_table: true/);
    const table = schema.table();
    await schema.query(`CREATE TABLE ${table} (id integer, v text)`);
    const noIndex = await failure(openSink({ url: PG_URL, table, mode: 'upsert', key: ['id'] }));
    assert.equal(noIndex.path, 'key');
    assert.match(noIndex.message, /no primary key or unique index on exactly \(id\)/);
    const noColumn = await failure(openSink({ url: PG_URL, table, columns: { id: 'integer', w: 'text' } }));
    assert.match(noColumn.message, /has no column 'w'/);
    assert.throws(
      () => postgresSink.create(sinkConfig({ url: PG_URL, table, create_table: true })),
      /`create_table: true` needs `columns`/,
    );
    assert.throws(
      () => postgresSink.create(sinkConfig({ url: PG_URL, table, mode: 'upsert' })),
      /needs `key`/,
    );
  });

  test('redshift dialect: upserts staged and applied by delete-then-insert, on a table without the unique index ON CONFLICT needs', async () => {
    const table = schema.table();
    // Redshift enforces no unique index: the table has none, so an `ON CONFLICT` would fail here.
    await schema.query(`CREATE TABLE ${table} (region text, day integer, total bigint)`);
    const sink = await openSink({
      url: PG_URL,
      table,
      mode: 'upsert',
      key: ['region', 'day'],
      dialect: 'redshift',
    });
    const r = (region: string, day: number, total: number): Row => ({ region, day, total });
    const changes: [Row[], RowKind[]][] = [
      [
        [
          r('eu', 1, 1),
          r('eu', 1, 1),
          r('eu', 1, 2),
          r('us', 1, 5),
          r('ap', 1, 7),
          r('ap', 1, 7),
          r('eu', 2, 3),
        ],
        [INSERT, UPDATE_BEFORE, UPDATE_AFTER, INSERT, INSERT, DELETE, INSERT],
      ],
      [
        [r('eu', 2, 3), r('eu', 1, 2), r('eu', 1, 9), r('us', 1, 5), r('us', 1, 6), r('zz', 9, 0)],
        [UPDATE_BEFORE, UPDATE_BEFORE, UPDATE_AFTER, UPDATE_BEFORE, UPDATE_AFTER, DELETE],
      ],
    ];
    for (const [records, kinds] of changes)
      assert.equal(await sink.write(batchOf(records, kinds)), undefined);
    // A refused row (a total that is no number) is dead-lettered; the other keys of the batch are applied.
    const refused = await sink.write(
      batchOf([r('fr', 1, 4), { region: 'de', day: 1, total: 'many' }], [INSERT, INSERT]),
    );
    assert.equal(refused?.length, 1);
    assert.equal(refused?.[0].index, 1);
    assert.match(refused?.[0].message ?? '', /invalid input syntax for type bigint/);
    await sink.close();
    const rows = await schema.query(`SELECT region, day, total::int FROM ${table} ORDER BY region, day`);
    // The same table the changes describe, folded independently of the sink.
    const expected = new Map<string, Row>();
    for (const [records, kinds] of changes)
      records.forEach((row, i) => {
        const key = `${row.region}/${row.day}`;
        if (kinds[i] === DELETE || kinds[i] === UPDATE_BEFORE) expected.delete(key);
        else expected.set(key, row);
      });
    expected.set('fr/1', r('fr', 1, 4));
    const byKey = (a: Row, b: Row) =>
      String(a.region).localeCompare(String(b.region)) || Number(a.day) - Number(b.day);
    assert.deepEqual(rows, [...expected.values()].sort(byKey));
    assert.throws(
      () =>
        postgresSink.create(
          sinkConfig({ url: PG_URL, table, dialect: 'redshift', delivery: 'exactly_once' }),
        ),
      /Redshift has no `PREPARE TRANSACTION`/,
    );
  });
});

/**
 * The records of `records` a sink refused, by index: those of `write`'s result and, with `sink`,
 * those it found later (`takeRejections`, matched by identity), as the runtime collects them.
 */
function refusals(
  records: readonly Row[],
  written: SinkRejection[] | undefined,
  sink?: Sink,
): SinkRejection[] {
  const found = [...(written ?? [])];
  for (const r of sink?.takeRejections?.() ?? []) {
    const index = records.indexOf(r.record);
    assert.ok(index >= 0, 'a refused record is one of those written');
    found.push({ index, message: r.message });
  }
  return found;
}
