/**
 * The `postgres` source in real jobs: a table's changes, filtered record by record, kept in
 * another table by the `postgres` sink's upserts — a filtered mirror. While changes go on, the
 * mirror must come to equal the same filter over the source table, also across a stop and a
 * restart from the checkpoint (with changes made while the pipeline was down).
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry, type Row } from '@sluice/core';
import { CdcTable } from './cdc-test-support.ts';
import { postgres } from './index.ts';
import { PG_URL, postgresMissing } from './test-support.ts';

const skip = (await postgresMissing()) ?? false;
const tables: CdcTable[] = [];
const dirs: string[] = [];
after(async () => {
  for (const t of tables) await t.drop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const registry = new Registry([builtins, postgres]);

describe('postgres source in a job', { skip }, () => {
  for (const changelog of ['retract', 'upsert'] as const) {
    test(`a filtered mirror (changelog: ${changelog}) equals the filter over the table, across a restart`, async () => {
      const source = new CdcTable();
      const mirror = new CdcTable();
      tables.push(source, mirror);
      await source.create();
      await mirror.create();
      if (changelog === 'retract') await source.query('ALTER TABLE $table REPLICA IDENTITY FULL');
      await source.query(
        "INSERT INTO $table SELECT i, 'row ' || i, i % 7, i FROM generate_series(1, 300) AS i",
      );
      const dir = await mkdtemp(join(tmpdir(), 'sluice-pg-cdc-job-'));
      dirs.push(dir);
      // A filter takes retract streams only; an upsert stream goes to the sink as it is.
      const steps =
        changelog === 'retract'
          ? `steps:\n  - { id: kept, type: filter, input: changes, where: "amount > 0" }\n`
          : '';
      const yaml = `
name: pg-cdc-${process.pid}-${changelog}
settings:
  batch_size: 50
  checkpoint: { interval: 100ms, dir: ./checkpoints }
sources:
  changes:
    type: postgres
    url: "${PG_URL}"
    table: public.${source.name}
    key: [id]
    changelog: ${changelog}
    slot: ${source.slot}
    snapshot_batch: 64
${steps}sinks:
  mirror:
    type: postgres
    input: ${changelog === 'retract' ? 'kept' : 'changes'}
    url: "${PG_URL}"
    table: public.${mirror.name}
    mode: upsert
    key: [id]
`;
      const want = async (): Promise<Row[]> =>
        source.query(`SELECT * FROM $table ${changelog === 'retract' ? 'WHERE amount > 0' : ''} ORDER BY id`);
      const settled = async () => {
        const until = Date.now() + 30_000;
        for (;;) {
          const [expected, got] = [await want(), await mirror.rows()];
          if (JSON.stringify(expected) === JSON.stringify(got) || Date.now() > until)
            return { expected, got };
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      const start = async () => {
        const job = await Job.create(parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry }), {
          registry,
        });
        return { job, done: job.run() };
      };

      let running = await start();
      await source.query("UPDATE $table SET amount = 0, name = 'zeroed' WHERE id % 5 = 0");
      await source.query('DELETE FROM $table WHERE id % 11 = 0');
      await source.query(
        "INSERT INTO $table SELECT i, 'late ' || i, 3, i FROM generate_series(301, 350) AS i",
      );
      let { expected, got } = await settled();
      assert.deepEqual(got, expected);
      running.job.stop();
      assert.equal((await running.done).status, 'stopped');

      // Changes while the pipeline is down come from the slot after the restart.
      await source.query("UPDATE $table SET amount = 9, name = 'revived' WHERE id % 10 = 0");
      await source.query('DELETE FROM $table WHERE id BETWEEN 100 AND 120');
      running = await start();
      await source.query("INSERT INTO $table VALUES (1000, 'last', 1, 1)");
      ({ expected, got } = await settled());
      assert.deepEqual(got, expected);
      running.job.stop();
      await running.done;
    });
  }
});
