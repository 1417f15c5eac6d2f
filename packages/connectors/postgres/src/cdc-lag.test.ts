/**
 * The `postgres` source's slot lag (`SourceReader.lag`) against the real server: the WAL bytes
 * between the server's current position and the slot's confirmed one, bracketed by the same
 * difference asked by the test before and after, as changes come and as a commit confirms them.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { CdcTable, openCdcReader, readUntil } from './cdc-test-support.ts';
import { postgresMissing } from './test-support.ts';

const skip = (await postgresMissing()) ?? false;
const tables: CdcTable[] = [];
after(async () => {
  for (const t of tables) await t.drop();
});

/** The slot's lag in bytes as the test's own connection sees it now. */
async function slotLag(t: CdcTable): Promise<number> {
  const [row] = await t.query<{ lag: number }>(
    'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 AS lag FROM pg_replication_slots WHERE slot_name = $1',
    [t.slot],
  );
  assert.ok(row, 'the slot exists');
  return row.lag;
}

describe('postgres source: slot lag', { skip }, () => {
  test('the lag is the WAL the slot has not confirmed, and falls once a commit confirms it', async () => {
    const t = new CdcTable();
    tables.push(t);
    await t.create();
    await t.createSlot();
    const reader = await openCdcReader(t.options({ snapshot: 'never' }));
    try {
      // About a megabyte of WAL: more than other work on the server writes meanwhile.
      await t.query("INSERT INTO $table SELECT i, repeat('x', 400), i, i FROM generate_series(1, 2000) AS i");
      const [{ end }] = await t.query<{ end: string }>('SELECT pg_current_wal_lsn()::text AS end');
      const low = await slotLag(t);
      const lag = await reader.lag();
      const high = await slotLag(t);
      assert.equal(lag?.unit, 'bytes');
      const bytes = lag?.partitions[reader.partition];
      assert.ok(bytes !== undefined && bytes >= low && bytes <= high, `${bytes} in [${low}, ${high}]`);
      assert.ok(bytes >= 400 * 2000, `${bytes} bytes cover the insert's WAL`);

      await readUntil(reader, (got) => got.records.length >= 2000);
      await reader.commit(reader.position());
      // The reader tells the server in its next status update.
      const until = Date.now() + 20_000;
      for (;;) {
        const [{ done }] = await t.query<{ done: boolean }>(
          'SELECT confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1',
          [t.slot, end],
        );
        if (done) break;
        assert.ok(Date.now() < until, 'the slot confirms the insert within 20 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      const low2 = await slotLag(t);
      const after = (await reader.lag())?.partitions[reader.partition];
      const high2 = await slotLag(t);
      assert.ok(after !== undefined && after >= low2 && after <= high2, `${after} in [${low2}, ${high2}]`);
      assert.ok(after < bytes, `the lag fell from ${bytes} to ${after} bytes`);
    } finally {
      await reader.close();
    }
  });
});
