/**
 * Rebalances against the real broker: a second reader of the same group joins and leaves while
 * the first reads a topic that is still being written. Each reader is driven like the runtime
 * drives it (read, and every few hundred ms a "checkpoint": take the position, commit it).
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Row, SourceBatch, SourceReader } from '@sluice/core';
import {
  type CapturingLogger,
  capturingLogger,
  committedOffsets,
  kafkaAvailable,
  openKafkaReader,
  produce,
  Topics,
  uniqueName,
} from './test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
after(() => topics.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Drives a reader like the runtime: reads in a loop, checkpoints (position → commit) periodically. */
class Driver {
  readonly records: Row[] = [];
  readonly batches: SourceBatch[] = [];
  readonly reader: SourceReader;
  readonly log: CapturingLogger;
  #running = true;
  #loop: Promise<void>;
  #error: unknown;

  constructor(reader: SourceReader, log: CapturingLogger, checkpointEveryMs: number) {
    this.reader = reader;
    this.log = log;
    this.#loop = this.#run(checkpointEveryMs).catch((err) => {
      this.#error = err;
    });
  }

  async #run(every: number): Promise<void> {
    const signal = new AbortController().signal;
    let last = Date.now();
    while (this.#running) {
      const b = await this.reader.read(500, signal);
      if (b === null) break;
      this.batches.push(b);
      for (const r of b.records) this.records.push(r);
      if (Date.now() - last >= every) {
        last = Date.now();
        await this.reader.commit!(this.reader.position());
      }
    }
  }

  /** Partitions read from so far (by batch), for waiting on assignment changes. */
  partitions(): Set<string> {
    return new Set(Object.keys(this.reader.position() as object));
  }

  /** Stops reading; `checkpoint` takes a last checkpoint first (a clean stop), else leaves at once. */
  async stop(checkpoint: boolean): Promise<void> {
    this.#running = false;
    await this.#loop;
    if (this.#error) throw this.#error;
    if (checkpoint) await this.reader.commit!(this.reader.position());
    await this.reader.close();
  }
}

const offsetOf = (r: Row) => {
  const m = r._kafka as { partition: number; offset: number };
  return `${m.partition}@${m.offset}`;
};

describe('kafka source: rebalance', { skip: !available }, () => {
  test('a second reader joins and leaves while the first reads: every record is delivered', async () => {
    const partitions = 6;
    const name = await topics.create('rebalance', partitions);
    const group = uniqueName('g');
    const config = { topics: [name], group_id: group, heartbeat_interval: '200ms', session_timeout: '6s' };

    // The topic is written throughout: 40 rounds of 150 records, 60 ms apart.
    let produced = 0;
    const producing = (async () => {
      for (let round = 0; round < 40; round++) {
        const batch = [];
        for (let i = 0; i < 150; i++, produced++)
          batch.push({ partition: produced % partitions, value: JSON.stringify({ n: produced }) });
        await produce(name, batch);
        await sleep(60);
      }
    })();

    const logA = capturingLogger();
    /** Partitions A reported revoked through its context, as the runtime learns of them. */
    const revokedA: string[] = [];
    // Two workers: each its own static member of the group.
    const a = new Driver(
      await openKafkaReader(
        { ...config, group_instance_id: 'a' },
        { log: logA, partitionsRevoked: (_reader, ps) => revokedA.push(...ps) },
      ),
      logA,
      250,
    );
    await waitFor(
      'reader A to own every partition and read',
      () => a.partitions().size === partitions && a.records.length > 500,
    );

    const logB = capturingLogger();
    const b = new Driver(
      await openKafkaReader({ ...config, group_instance_id: 'b' }, { log: logB }),
      logB,
      250,
    );
    await waitFor(
      'the group to split the partitions',
      () => b.partitions().size > 0 && a.partitions().size < partitions,
    );
    const bOwned = b.partitions();
    assert.equal(bOwned.size + a.partitions().size, partitions);
    for (const p of bOwned) assert.ok(!a.partitions().has(p), `${p} owned by one reader only`);
    await waitFor('reader B to read', () => b.records.length > 300);
    // The runtime learns from A's context which partitions A lost (it drops their watermarks).
    await waitFor('A to report its revoked partitions', () => revokedA.length === bOwned.size);
    assert.deepEqual(new Set(revokedA), bOwned);
    // B leaves without a last checkpoint: what it read after its last commit is re-read by A.
    await b.stop(false);
    await waitFor('A to own every partition again', () => a.partitions().size === partitions);
    await producing;
    await waitFor('every produced record to be delivered', () => {
      const seen = new Set([...a.records, ...b.records].map(offsetOf));
      return seen.size === produced;
    });
    await a.stop(true);

    // A read the partitions it got back from the group's committed offsets.
    const restarts = logA.lines
      .filter((l) => l.message.includes('start at'))
      .map((l) => JSON.stringify(l.fields));
    assert.equal(restarts.length >= 2, true, 'A resolved starts for the partitions it got back');
    assert.match(restarts.at(-1)!, /\(group\)/);
    // Every batch holds the records of the one partition it names.
    for (const batch of [...a.batches, ...b.batches]) {
      for (const r of batch.records)
        assert.equal(`${name}/${(r._kafka as { partition: number }).partition}`, batch.partition);
    }
    const union = new Set([...a.records, ...b.records].map(offsetOf));
    assert.equal(union.size, produced);
    for (let p = 0; p < partitions; p++) {
      const expected = Math.ceil((produced - p) / partitions);
      for (let o = 0; o < expected; o++)
        assert.ok(union.has(`${p}@${o}`), `partition ${p} offset ${o} delivered`);
    }
    // The group ends with every partition committed at its end.
    const committed = await committedOffsets(group, name);
    for (let p = 0; p < partitions; p++)
      assert.equal(committed.get(p), Math.ceil((produced - p) / partitions));
  });
});
