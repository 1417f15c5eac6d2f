/**
 * The source conformance suite, run by the `postgres` source against the real server: with the
 * initial snapshot (at-least-once) and without it (exactly-once). Each input is a table of its
 * own; writing records inserts rows (directly, also while the outage case cuts the source's
 * connections at its proxy).
 */

import { after } from 'node:test';
import type { Row } from '@sluice/core';
import { sourceConformance } from '@sluice/core/testing';
import { postgresSource } from './cdc-source.ts';
import { CdcTable } from './cdc-test-support.ts';
import { PG_URL, postgresMissing, REPO_ROOT } from './test-support.ts';

const missing = await postgresMissing();
const tables: CdcTable[] = [];
after(async () => {
  for (const t of tables) await t.drop();
});

for (const snapshot of ['initial', 'never'] as const) {
  sourceConformance({
    spec: postgresSource,
    label: `postgres (snapshot: ${snapshot})`,
    skip: missing ?? false,
    baseDir: REPO_ROOT,
    plugin: '@sluice/postgres',
    // The outage case cuts the replication connection (and the source's others) at a proxy.
    server: new URL(PG_URL).host,
    async input(through) {
      const table = new CdcTable();
      tables.push(table);
      await table.create('id int PRIMARY KEY, name text, ts double precision');
      // Without a snapshot the source reads what the slot holds: records written before the
      // source opens are there when the slot is made first.
      if (snapshot === 'never') await table.createSlot();
      const url = new URL(PG_URL);
      if (through?.address !== undefined) url.host = through.address;
      return {
        options: table.options({ snapshot, url: url.href }),
        async write(records: readonly Row[]) {
          if (records.length === 0) return;
          await table.query('INSERT INTO $table SELECT * FROM unnest($1::int[], $2::text[], $3::float8[])', [
            records.map((r) => r.id),
            records.map((r) => r.name),
            records.map((r) => r.ts),
          ]);
        },
        dispose: () => table.drop(),
      };
    },
  });
}
