/**
 * The `postgres` source against the real server: the snapshot and then the changes fold into the
 * table as the server holds it; a restart resumes exactly at the checkpointed position, inside a
 * transaction too; the slot is confirmed only in `commit`; a key that changes, a TRUNCATE, a
 * wrong key and a lost slot each get what they should; a connection lost mid-stream loses nothing.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DELETE, INSERT, SluiceError, UPDATE_AFTER, UPDATE_BEFORE } from '@sluice/core';
import { OutageProxy } from '@sluice/core/testing';
import type { CdcPosition } from './cdc-reader.ts';
import { CdcTable, foldById, openCdcReader, readUntil } from './cdc-test-support.ts';
import { PG_URL, postgresMissing } from './test-support.ts';

const missing = await postgresMissing();
const tables: CdcTable[] = [];
after(async () => {
  for (const t of tables) await t.drop();
});

async function table(rows = 0): Promise<CdcTable> {
  const t = new CdcTable();
  tables.push(t);
  await t.create();
  if (rows > 0)
    await t.query(
      "INSERT INTO $table SELECT i, 'row ' || i, i * 10, 1000 + i FROM generate_series(1, $1::int) AS i",
      [rows],
    );
  return t;
}

describe('postgres source', { skip: missing }, () => {
  test('the snapshot, then inserts, updates and deletes: folded, the table as the server holds it', async () => {
    const t = await table(50);
    const reader = await openCdcReader(t.options(), {});
    try {
      const snapshot = await readUntil(reader, (got) => got.records.length >= 50, { max: 7 });
      assert.equal(snapshot.records.length, 50);
      assert.ok(snapshot.kinds.every((k) => k === INSERT));
      assert.deepEqual(snapshot.records[0], { id: 1, name: 'row 1', amount: 10, ts: 1001 });

      await t.query("INSERT INTO $table VALUES (51, 'new', 5000000000000, 2000)");
      await t.query("UPDATE $table SET name = 'changed', amount = amount + 1 WHERE id % 10 = 0");
      await t.query('DELETE FROM $table WHERE id BETWEEN 20 AND 24');
      await t.query(
        "BEGIN; UPDATE $table SET name = 'in a transaction' WHERE id = 1; DELETE FROM $table WHERE id = 2; COMMIT",
      );
      const changes = await readUntil(reader, (got) => got.records.length >= 1 + 5 + 5 + 2);
      assert.deepEqual(changes.records.slice(0, 1), [
        { id: 51, name: 'new', amount: 5000000000000, ts: 2000 },
      ]);
      assert.deepEqual(changes.kinds, [
        INSERT,
        ...Array(5).fill(UPDATE_AFTER),
        ...Array(5).fill(DELETE),
        UPDATE_AFTER,
        DELETE,
      ]);
      // A delete names its row by the key alone (the table has the default replica identity).
      assert.deepEqual(changes.records[6], { id: 20 });
      const folded = foldById({
        records: [...snapshot.records, ...changes.records],
        kinds: [...snapshot.kinds, ...changes.kinds],
        failures: [],
      });
      assert.deepEqual(folded, await t.rows());
    } finally {
      await reader.close();
    }
  });

  test('a restart resumes at the checkpointed position, also inside a transaction: nothing lost, nothing twice', async () => {
    const t = await table(3);
    let reader = await openCdcReader(t.options({ snapshot: 'never' }));
    let position: CdcPosition;
    try {
      // One transaction of 10 inserts, read 4 at a time: the checkpoint falls inside it.
      await t.query("INSERT INTO $table SELECT i, 'bulk', i, 0 FROM generate_series(100, 109) AS i");
      const first = await readUntil(reader, (got) => got.records.length >= 4, { max: 4 });
      assert.deepEqual(
        first.records.map((r) => r.id),
        [100, 101, 102, 103],
      );
      position = reader.position();
      assert.equal(position.partial?.n, 4);
      await reader.commit(position);
      // Read on past the checkpoint, then crash: what came after it is read again.
      await readUntil(reader, (got) => got.records.length >= 4, { max: 4 });
    } finally {
      await reader.close();
    }
    await t.query("INSERT INTO $table VALUES (200, 'after', 1, 1)");
    reader = await openCdcReader(t.options({ snapshot: 'never' }), { restored: position });
    try {
      const rest = await readUntil(reader, (got) => got.records.length >= 7);
      assert.deepEqual(
        rest.records.map((r) => r.id),
        [104, 105, 106, 107, 108, 109, 200],
      );
      const again = reader.position();
      assert.equal(again.partial, undefined);
      await reader.commit(again);
    } finally {
      await reader.close();
    }
  });

  test('the slot is confirmed only in commit, to the position the checkpoint covers', async () => {
    const t = await table();
    const reader = await openCdcReader(t.options({ snapshot: 'never' }));
    try {
      const start = await t.confirmed();
      await t.query("INSERT INTO $table VALUES (1, 'a', 1, 1)");
      await t.query("INSERT INTO $table VALUES (2, 'b', 2, 2)");
      await readUntil(reader, (got) => got.records.length >= 2, { max: 1 });
      // Status updates repeat the confirmed LSN; reading alone confirms nothing.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await t.confirmed(), start);
      const position = reader.position();
      await reader.commit(position);
      let confirmed = await t.confirmed();
      for (let i = 0; i < 50 && confirmed !== position.lsn; i++) {
        await new Promise((r) => setTimeout(r, 100));
        confirmed = await t.confirmed();
      }
      assert.equal(confirmed, position.lsn);
    } finally {
      await reader.close();
    }
  });

  test('an update that changes the key deletes the old key first; a TRUNCATE is a failure with the reason', async () => {
    const t = await table(2);
    const reader = await openCdcReader(t.options({ snapshot: 'never' }));
    try {
      await t.query('UPDATE $table SET id = 10 WHERE id = 1');
      await t.query('TRUNCATE $table');
      await t.query("INSERT INTO $table VALUES (3, 'after truncate', 1, 1)");
      const got = await readUntil(reader, (g) => g.records.length >= 3 && g.failures.length >= 1);
      assert.deepEqual(got.kinds, [DELETE, UPDATE_AFTER, INSERT]);
      assert.deepEqual(got.records[0], { id: 1 });
      assert.equal(got.records[1].id, 10);
      assert.equal(got.failures.length, 1);
      assert.match(got.failures[0].message, /was truncated: a TRUNCATE names no rows/);
    } finally {
      await reader.close();
    }
  });

  test('changelog: retract gives updates as the whole old row and the new one, deletes as the whole old row', async () => {
    const t = await table(2);
    await assert.rejects(openCdcReader(t.options({ changelog: 'retract' })), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.path, 'changelog');
      assert.match(err.message, /has REPLICA IDENTITY DEFAULT; run ALTER TABLE .* REPLICA IDENTITY FULL/);
      return true;
    });
    await t.query('ALTER TABLE $table REPLICA IDENTITY FULL');
    const reader = await openCdcReader(t.options({ changelog: 'retract', snapshot: 'never' }));
    try {
      await t.query("UPDATE $table SET name = 'new' WHERE id = 1");
      await t.query('DELETE FROM $table WHERE id = 2');
      const got = await readUntil(reader, (g) => g.records.length >= 3);
      assert.deepEqual(got.kinds, [UPDATE_BEFORE, UPDATE_AFTER, DELETE]);
      assert.deepEqual(got.records, [
        { id: 1, name: 'row 1', amount: 10, ts: 1001 },
        { id: 1, name: 'new', amount: 10, ts: 1001 },
        { id: 2, name: 'row 2', amount: 20, ts: 1002 },
      ]);
    } finally {
      await reader.close();
    }
  });

  test('a key that is not the table’s, a table without one, and a missing table are refused at start', async () => {
    const t = await table();
    await assert.rejects(openCdcReader(t.options({ key: ['name'] })), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.path, 'key');
      assert.match(err.message, /identifies its rows by \[id\] \(its primary key\); set key: \[id\]/);
      return true;
    });
    const bare = new CdcTable();
    tables.push(bare);
    await bare.create('id int, name text');
    await assert.rejects(openCdcReader(bare.options()), /has no primary key .* set REPLICA IDENTITY FULL/);
    await bare.query('ALTER TABLE $table REPLICA IDENTITY FULL');
    const full = await openCdcReader(bare.options({ snapshot: 'never' }));
    await full.close();
    await assert.rejects(
      openCdcReader({ ...t.options(), table: 'public.no_such_table_here' }),
      /does not exist/,
    );
  });

  test('a slot dropped since the checkpoint stops the source: the changes in between cannot be read', async () => {
    const t = await table(1);
    const reader = await openCdcReader(t.options({ snapshot: 'never' }));
    const position = reader.position();
    await reader.close();
    await t.dropSlot();
    await assert.rejects(
      openCdcReader(t.options({ snapshot: 'never' }), { restored: position }),
      (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'SOURCE_POSITION_LOST');
        assert.match(err.message, /no longer exists.*--from-scratch/);
        return true;
      },
    );
  });

  test('a connection lost mid-stream is reopened: every change arrives once', async () => {
    const t = await table();
    const proxy = new OutageProxy(new URL(PG_URL).host);
    await proxy.up();
    const url = new URL(PG_URL);
    url.host = proxy.address;
    const reader = await openCdcReader(t.options({ url: url.toString(), snapshot: 'never' }));
    try {
      await t.query("INSERT INTO $table SELECT i, 'x', i, 0 FROM generate_series(1, 20) AS i");
      await readUntil(reader, (got) => got.records.length >= 20);
      await proxy.down();
      await t.query("INSERT INTO $table SELECT i, 'y', i, 0 FROM generate_series(21, 40) AS i");
      await new Promise((r) => setTimeout(r, 500));
      await proxy.up();
      const rest = await readUntil(reader, (got) => got.records.length >= 20, { timeoutMs: 30_000 });
      assert.deepEqual(
        rest.records.map((r) => r.id),
        Array.from({ length: 20 }, (_, i) => 21 + i),
      );
      // Nothing more comes: what was received before the loss is not taken again.
      const more = await reader.read(100, new AbortController().signal);
      assert.equal(more?.records.length, 0);
    } finally {
      await reader.close();
      await proxy.down();
    }
  });
});
