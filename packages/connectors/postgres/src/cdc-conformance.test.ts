/**
 * The source conformance suite, run by the `postgres` source against the real server: with the
 * initial snapshot (at-least-once) and without it (exactly-once). Each input is a table of its
 * own; writing records inserts rows.
 */

import { after } from 'node:test';
import type { Row } from '@sluice/core';
import { sourceConformance } from '@sluice/core/testing';
import { postgresSource } from './cdc-source.ts';
import { CdcTable } from './cdc-test-support.ts';
import { postgresMissing, REPO_ROOT } from './test-support.ts';

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
    async input() {
      const table = new CdcTable();
      tables.push(table);
      await table.create('id int PRIMARY KEY, name text, ts double precision');
      // Without a snapshot the source reads what the slot holds: records written before the
      // source opens are there when the slot is made first.
      if (snapshot === 'never') await table.createSlot();
      return {
        options: table.options({ snapshot }),
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
