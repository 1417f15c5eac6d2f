/**
 * The PostgreSQL checkpoint store against the real server: the shared checkpoint store suite
 * (round trip and pruning, one owner per slot, graceful release, a killed owner's lease, a zombie
 * fenced, unreadable checkpoints set aside).
 */

import { dirname } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkpointStoreConformance } from '@sluice/core/testing';
import pg from 'pg';
import { PostgresCheckpointStore } from './checkpoint-store.ts';
import { PG_URL, postgresMissing } from './test-support.ts';

const missing = await postgresMissing();
const TABLE = `sluice_ckpt_test_${process.pid}`;
const pipeline = `p${Date.now().toString(36)}`;

after(async () => {
  if (missing) return;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`DROP TABLE IF EXISTS ${TABLE}, ${TABLE}_owners`);
  await c.end();
});

checkpointStoreConformance({
  label: 'postgres',
  skip: missing ?? false,
  pipeline,
  store: (slot, owner, extra = {}) =>
    new PostgresCheckpointStore({ url: PG_URL, pipeline, slot, owner, keep: 2, table: TABLE, ...extra }),
  child: {
    code: `
      import { PostgresCheckpointStore } from ${JSON.stringify(new URL('./checkpoint-store.ts', import.meta.url).href)};
      const makeStore = (slot, owner, leaseMs) => 
        new PostgresCheckpointStore({ ...${JSON.stringify({ url: PG_URL, pipeline, keep: 2, table: TABLE })}, slot, owner, leaseMs });
    `,
    cwd: dirname(fileURLToPath(import.meta.url)),
  },
});
