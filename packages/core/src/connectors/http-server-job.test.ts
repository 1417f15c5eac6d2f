/**
 * The `http_server` source in a running job: a graceful stop delivers everything it accepted,
 * `ack: checkpoint` answers only once the sink committed the records, and `ack: wal` keeps its
 * log in the job's checkpoint folder.
 */

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { Logger } from '../connector.ts';
import type { Row } from '../record.ts';
import { Harness, planFrom, testRegistry, waitFor } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { memorySinkStore } from '../testing/index.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

/** A job reading `http_server` (options `ack` and more) into the memory sink `store`. */
async function startJob(store: string, options: string, batchSize = 1024) {
  const dir = await h.dir();
  const plan = planFrom(
    `
name: ingest
settings: { checkpoint: { interval: 1h, dir: ./ckpt }, batch_size: ${batchSize} }
sources:
  in: { type: http_server, port: 0, queue_records: 100000, ${options} }
sinks:
  out: { type: memory, store: ${store} }
`,
    dir,
    registry,
  );
  let url = '';
  const log: Logger = {
    debug() {},
    info: (message, fields) => {
      if (message === 'http_server listening') url = String(fields?.url);
    },
    warn() {},
    error() {},
  };
  const job = await Job.create(plan, { registry, log, tickInterval: 5 });
  assert.ok(url !== '');
  return { job, url, dir, running: h.run(job) };
}

const records = (from: number, n: number): Row[] => Array.from({ length: n }, (_, i) => ({ i: from + i }));
const post = (url: string, rows: Row[]) => fetch(url, { method: 'POST', body: JSON.stringify(rows) });

describe('http_server in a job', () => {
  for (const ack of ['wal', 'memory'] as const) {
    it(`a graceful stop delivers every record accepted before it (ack: ${ack})`, async () => {
      const store = `stop-${ack}`;
      const { job, url, running } = await startJob(store, `ack: ${ack}`, 1);
      // One record per read: most of the request is still queued when the stop comes.
      assert.equal((await post(url, records(0, 2000))).status, 202);
      job.stop();
      const result = await running;
      assert.equal(result.status, 'stopped');
      assert.equal(result.metrics.recordsIn, 2000);
      assert.deepEqual(memorySinkStore(store).committed, records(0, 2000));
    });
  }

  it('ack: checkpoint answers a request once the sink committed its records, and a stop answers the rest', async () => {
    const store = 'sync';
    const sink = memorySinkStore(store);
    const { job, url, running } = await startJob(store, 'ack: checkpoint');
    const res = await post(url, records(0, 50));
    assert.equal(res.status, 202);
    assert.deepEqual(sink.committed, records(0, 50), 'committed before the 202');
    const waiting = post(url, records(50, 3000));
    await waitFor('records to be read', () => job.metrics().recordsIn > 50);
    job.stop();
    assert.equal((await waiting).status, 202);
    await running;
    assert.deepEqual(sink.committed, records(0, 3050));
  });

  it('ack: wal keeps its log in the job checkpoint folder', async () => {
    const { url, dir } = await startJob('wal-dir', 'ack: wal');
    assert.equal((await post(url, records(0, 3))).status, 202);
    const files = await readdir(join(dir, 'ckpt', 'ingest', 'sources', 'in'));
    assert.deepEqual(files, ['wal-00000000000000000000.log']);
  });
});
