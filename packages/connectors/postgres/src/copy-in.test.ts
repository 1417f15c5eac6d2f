/**
 * `CopyWindows` against the real server: a run of COPYs in one transaction that hands `pg` a
 * statement only when the connection is idle (no "client.query() when the client is already
 * executing a query" deprecation, which `pg` 9 turns into the queue's removal), keeps every
 * row in order whatever the window, and fails every COPY of the run — none hanging — when the
 * server refuses a row.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { BinaryRows } from './copy-binary.ts';
import { CopyWindows } from './copy-in.ts';
import { PG_URL, postgresMissing, TestSchema } from './test-support.ts';

const skip = (await postgresMissing()) ?? false;
const schema = new TestSchema();

/** Every warning the process emitted, as `name: message`. */
const warnings: string[] = [];
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));

/** The warnings about queries issued on a busy client. */
async function busyClientWarnings(): Promise<string[]> {
  // process warnings are emitted on a later tick
  await new Promise<void>((resolve) => setImmediate(resolve));
  return warnings.filter((w) => /already executing a query/.test(w));
}

describe('CopyWindows', { skip }, () => {
  let client: pg.Client;
  before(async () => {
    client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`SET search_path TO ${schema.name}`).catch(() => {});
  });
  after(async () => {
    await client?.end().catch(() => {});
    await schema.drop();
  });

  for (const rowsPerWrite of [1, 7, 1000]) {
    test(`text rows in windows, ${rowsPerWrite} a write: all of them, in order, no query on a busy client`, async () => {
      const table = schema.table('text');
      await schema.query(`CREATE TABLE ${table} (n integer, s text)`);
      const expected: string[] = [];
      await client.query('BEGIN');
      // Windows of 256 bytes to 1 KiB: a few hundred COPYs, several queued behind a running one.
      const copies = new CopyWindows(client, `COPY ${table} FROM STDIN`, { min: 256, max: 1024 });
      for (let n = 0; n < 6000; n += rowsPerWrite) {
        let text = '';
        for (let i = n; i < Math.min(6000, n + rowsPerWrite); i++) {
          text += `${i}\tvalue ${i}\n`;
          expected.push(`${i}:value ${i}`);
        }
        await copies.write(text);
      }
      await copies.end();
      await client.query('COMMIT');
      const rows = await schema.query<{ n: number; s: string }>(`SELECT n, s FROM ${table} ORDER BY n`);
      assert.deepEqual(
        rows.map((r) => `${r.n}:${r.s}`),
        expected,
      );
      assert.deepEqual(await busyClientWarnings(), []);
    });
  }

  test('binary rows in windows: all of them, no query on a busy client', async () => {
    const table = schema.table('binary');
    await schema.query(`CREATE TABLE ${table} (n bigint, s text)`);
    await client.query('BEGIN');
    const copies = new CopyWindows(
      client,
      `COPY ${table} FROM STDIN (FORMAT binary)`,
      { min: 256, max: 4096 },
      256,
      true,
    );
    const rows = new BinaryRows();
    let sum = 0;
    for (let n = 0; n < 5000; n++) {
      rows.reset();
      rows.fields(2);
      rows.int64(n * 3);
      rows.text(`r${n}`);
      sum += n * 3;
      await copies.write(rows.bytes.slice());
    }
    await copies.end();
    await client.query('COMMIT');
    const [got] = await schema.query<{ c: number; s: string }>(
      `SELECT count(*)::int AS c, sum(n)::text AS s FROM ${table}`,
    );
    assert.deepEqual(got, { c: 5000, s: String(sum) });
    assert.deepEqual(await busyClientWarnings(), []);
  });

  test('a refused row fails the run with the server’s reason; the queued COPYs are never sent and none hangs', async () => {
    const table = schema.table('refused');
    await schema.query(`CREATE TABLE ${table} (n integer NOT NULL)`);
    await client.query('BEGIN');
    const copies = new CopyWindows(client, `COPY ${table} FROM STDIN`, { min: 64, max: 64 });
    // Row 50 is refused; the writes go on (a write does not wait for the server) and queue more COPYs.
    for (let n = 0; n < 400; n++) await copies.write(n === 50 ? '\\N\n' : `${n}\n`);
    await assert.rejects(copies.end(), /null value in column "n"/);
    assert.match(String(copies.failure), /null value in column "n"/);
    await client.query('ROLLBACK');
    // The connection is usable again, and nothing of the run was committed.
    const [{ c }] = await schema.query<{ c: number }>(`SELECT count(*)::int AS c FROM ${table}`);
    assert.equal(c, 0);
    assert.deepEqual(await busyClientWarnings(), []);
  });
});
