/**
 * The conformance suite every source runs against its real system (Benthos' StreamTests, for
 * sources): read everything; resume from a checkpointed position with nothing lost and nothing
 * repeated beyond what the declared guarantee allows; acknowledge upstream only in `commit`; end
 * of input for bounded sources; decode failures as dead letters that count as records in.
 *
 * A connector calls `sourceConformance(adapter)` at the top level of a test file; the adapter says
 * how to make a fresh input (a file, a topic, a stream) with the source's options for it, and how
 * to write records (and input that does not decode) into it as the system's producers would.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import type { Static, TSchema } from 'typebox';
import { builtins } from '../builtins.ts';
import type { DecodeFailure, Source, SourceReader } from '../connector.ts';
import type { Row } from '../record.ts';
import { Registry } from '../registry.ts';
import { Job, type JobResult } from '../runtime/job.ts';
import type { SourceSpec } from '../spec.ts';
import { parsePipelineYaml } from '../yaml/load.ts';
import {
  ChildJob,
  checkpointCount,
  jobOf,
  publishedLines,
  registryWith,
  UNDER_TEST,
  waitFor,
  writeGate,
} from './conformance-jobs.ts';
import {
  byId,
  checkedDelivery,
  configOf,
  idCounts,
  keptLogger,
  sleep,
  sourceContextOf,
} from './conformance-support.ts';
import { memorySinkStore, testing } from './memory.ts';
import { OutageProxy } from './services.ts';

/** One fresh input the source reads, and how to add to it. */
export interface SourceInput {
  /** The source's options for this input, as a pipeline file gives them (defaults are applied). */
  readonly options: { readonly [option: string]: unknown };
  /** Appends records, as the system's producers would write them. */
  write(records: readonly Row[]): Promise<void>;
  /**
   * Appends `count` inputs that do not decode (a malformed line, a message that is not JSON);
   * absent for a source that decodes nothing (its records are objects already).
   */
  writeMalformed?(count: number): Promise<void>;
  /** Ends the input, for a bounded source (closes the stream); absent: nothing to do. */
  end?(): Promise<void>;
  /** Releases the input (deletes a topic, a file). */
  dispose?(): Promise<void>;
}

export interface SourceConformance<S extends TSchema> {
  readonly spec: SourceSpec<S>;
  /** Why the suite cannot run here (its service is missing): every test is skipped with it. */
  readonly skip?: string | false;
  readonly label?: string;
  /** Folder relative paths resolve against. */
  readonly baseDir: string;
  /**
   * A fresh input. With `address` (only when `server` is given), options that read the server
   * through that `host:port` (a proxy the suite cuts); `write` and `dispose` still reach it directly.
   */
  input(options?: { address?: string }): Promise<SourceInput>;
  /**
   * The `host:port` of the system's server: runs the outage test, which puts an `OutageProxy` in
   * front of it. Absent: it skips saying so.
   */
  readonly server?: string;
  /**
   * The package whose plugin holds the spec (`@sluice/nats`; `@sluice/core` for a built-in): runs the kill -9 test, which runs the
   * source in a child process. Absent: it skips saying so.
   */
  readonly plugin?: string;
  /**
   * How two workers of one pipeline share the input (a consumer group, a shared subscription,
   * competing consumers on a queue): runs the two-workers test, worker `n` (1 or 2) with the
   * input's options changed by `options` (a consumer name of its own), or as they are. Absent: the
   * test skips (the system gives each reader all of the input).
   */
  readonly sharedWork?: {
    options?(
      options: { readonly [option: string]: unknown },
      worker: number,
    ): { readonly [option: string]: unknown };
  };
  /** Creates the source, when `spec.create` would read something the test cannot feed (stdin). */
  create?(config: Static<S>, input: SourceInput): Source;
  /**
   * Why a restart cannot resume this source (stdin: what was read is gone), which skips the resume
   * tests; absent: it resumes from its checkpointed positions.
   */
  readonly noResume?: string;
  /**
   * Whether the source keeps its position upstream too (a consumer group's committed offsets): a
   * reader opened without a restored position then resumes after the last `commit`.
   */
  readonly upstreamPositions?: boolean;
  /** How long a test may wait for records, ms (default 20 s). */
  readonly timeoutMs?: number;
}

/**
 * The row of a `changelog: debezium` line the `file` sink wrote for an insert; throws for any
 * other change (the suite's inputs are inserts only).
 */
function insertedRow(line: Row): Row {
  const after = line.after;
  if (line.op !== 'c' || typeof after !== 'object' || after === null || Array.isArray(after))
    throw new Error(`expected an insert, the file sink wrote ${JSON.stringify(line)}`);
  return after as Row;
}

/**
 * The `memory` sink into `store`, taking the changelog of a source of a table's changes (CDC),
 * whose records it keeps as they come: the suite only inserts.
 */
function memorySink<S extends TSchema>(spec: SourceSpec<S>, config: Static<S>, store: string): string {
  return `{ type: memory, store: ${store}${spec.changelog?.(config) !== undefined ? ', changelog: true' : ''} }`;
}

/** Records `from`..`to` - 1 of the suite's data, `{ id, name, ts }`. */
function rows(from: number, to: number): Row[] {
  const out: Row[] = [];
  for (let i = from; i < to; i++)
    out.push({ id: i, name: `record ${i}`, ts: Date.UTC(2026, 0, 1) + i * 1000 });
  return out;
}

/** What the readers of one open source returned. */
interface Read {
  records: Row[];
  failures: DecodeFailure[];
  /** Whether every reader's input ended (`read` returned null). */
  ended: boolean;
}

/**
 * Runs so far in this process, across every call: names of pipelines and memory stores stay
 * unique when one file runs a suite twice (the `mqtt` source at QoS 1 and 2).
 */
let runs = 0;

/** Registers the source conformance tests for `adapter`. */
export function sourceConformance<S extends TSchema>(adapter: SourceConformance<S>): void {
  const { spec } = adapter;
  const timeout = adapter.timeoutMs ?? 20_000;
  const name = `source conformance: ${adapter.label ?? spec.type}`;
  const create = (config: Static<S>, input: SourceInput): Source =>
    adapter.create ? adapter.create(config, input) : spec.create(config);
  const pipeline = () => `conformance-${spec.type}-${process.pid}-${Date.now().toString(36)}-${runs++}`;

  async function withInput(run: (input: SourceInput, config: Static<S>) => Promise<void>): Promise<void> {
    const input = await adapter.input();
    try {
      await run(input, configOf<Static<S>>(spec.config, input.options));
    } finally {
      await input.dispose?.();
    }
  }

  async function open(
    config: Static<S>,
    input: SourceInput,
    restored: { readonly [partition: string]: unknown } = {},
  ): Promise<SourceReader[]> {
    return create(config, input).open(
      sourceContextOf(adapter.baseDir, restored, keptLogger(), 'conformance'),
    );
  }

  /** Reads from every reader until `enough` holds, all ended, or the time is up. */
  async function readUntil(
    readers: SourceReader[],
    enough: (r: Read) => boolean,
    into?: Read,
  ): Promise<Read> {
    const out: Read = into ?? { records: [], failures: [], ended: false };
    const done = new Set<SourceReader>();
    const signal = new AbortController().signal;
    const deadline = Date.now() + timeout;
    while (!enough(out) && done.size < readers.length) {
      if (Date.now() > deadline) break;
      for (const r of readers) {
        if (done.has(r)) continue;
        const batch = await r.read(64, signal);
        if (batch === null) {
          done.add(r);
          continue;
        }
        for (const rec of batch.records) out.records.push(rec);
        for (const f of batch.failures ?? []) out.failures.push(f);
        if (enough(out)) break;
      }
    }
    out.ended = done.size === readers.length;
    return out;
  }

  const positions = (readers: SourceReader[]) =>
    Object.fromEntries(readers.map((r) => [r.partition, r.position()]));
  const closeAll = async (readers: SourceReader[]) => {
    for (const r of readers) await r.close();
  };
  /** Only the suite's fields, for sources that add their own (`_kafka` metadata). */
  const plain = (records: Row[]) => records.map(({ id, name, ts }) => ({ id, name, ts }));

  /** Every record of `expected` in `seen`, no more often than the guarantee allows. */
  function accounted(seen: Row[], expected: Row[], delivery: string, t: TestContext): void {
    const counts = idCounts(seen);
    let duplicates = 0;
    for (const r of expected) {
      const n = counts.get(Number(r.id)) ?? 0;
      if (delivery !== 'at-most-once') assert.ok(n >= 1, `record ${r.id} is not lost`);
      if (delivery !== 'at-least-once') assert.ok(n <= 1, `record ${r.id} is not read twice`);
      duplicates += Math.max(0, n - 1);
    }
    t.diagnostic(`${expected.length} records, ${duplicates} read again (${delivery})`);
  }

  /**
   * A job of the source in this process into `sink` (YAML of a sink), checkpointing every 100 ms
   * into `dir`; `run` gets it running. Resolves with how the job ended.
   */
  async function jobRun(
    input: SourceInput,
    dir: string,
    name: string,
    sink: string,
    settings: string,
    run: (job: Job, failed: () => string | undefined) => Promise<void>,
  ): Promise<JobResult> {
    const registry = registryWith(spec, (c: Static<S>) => create(c, input));
    const yaml = [
      `name: ${name}`,
      `settings: { checkpoint: { interval: 100ms, dir: ${JSON.stringify(dir)} }${settings} }`,
      'sources:',
      `  in: ${JSON.stringify({ type: UNDER_TEST, ...input.options })}`,
      'sinks:',
      `  out: ${sink}`,
      `dead_letter: { type: memory, store: ${name}-dead }`,
    ].join('\n');
    const job = await jobOf(yaml, join(adapter.baseDir, 'pipeline.yaml'), registry);
    let failure: unknown;
    const done = job.run().catch((err: unknown) => {
      failure = err;
      return undefined;
    });
    const failed = () => (failure !== undefined ? `the job failed: ${String(failure)}` : undefined);
    try {
      await run(job, failed);
    } finally {
      job.stop();
    }
    const result = await done;
    if (result === undefined) throw failure;
    return result;
  }

  describe(name, { skip: adapter.skip || false }, () => {
    test('declares a delivery guarantee that fits its options', async () => {
      await withInput(async (_input, config) => {
        checkedDelivery(spec.delivery, spec.config, config);
        assert.ok(spec.description, 'the description says what the guarantee means for this system');
      });
    });

    test('reads every record written', async () => {
      await withInput(async (input, config) => {
        const records = rows(0, 60);
        await input.write(records.slice(0, 25));
        await input.write(records.slice(25));
        await input.end?.();
        const readers = await open(config, input);
        try {
          const got = await readUntil(readers, (r) => r.records.length >= records.length);
          assert.deepEqual(byId(plain(got.records)), records);
          assert.deepEqual(got.failures, []);
        } finally {
          await closeAll(readers);
        }
      });
    });

    test('resumes from a checkpointed position: nothing lost, nothing repeated beyond its guarantee', async (t) => {
      if (adapter.noResume) return t.skip(adapter.noResume);
      await withInput(async (input, config) => {
        const delivery = checkedDelivery(spec.delivery, spec.config, config);
        const first = rows(0, 40);
        await input.write(first);
        const readers = await open(config, input);
        const before = await readUntil(readers, (r) => r.records.length >= 15);
        // The checkpoint takes the positions after the records read; the process then dies.
        const checkpointed = positions(readers);
        const counted = before.records.length;
        await readUntil(readers, (r) => r.records.length >= counted + 5, before);
        await closeAll(readers);
        const later = rows(40, 60);
        await input.write(later);
        await input.end?.();
        const again = await open(config, input, checkpointed);
        try {
          const after = await readUntil(
            again,
            (r) => r.records.length >= first.length + later.length - counted,
          );
          const all = [...plain(before.records.slice(0, counted)), ...plain(after.records)];
          const counts = idCounts(all);
          for (const r of [...first, ...later]) {
            const n = counts.get(Number(r.id)) ?? 0;
            if (delivery !== 'at-most-once') assert.ok(n >= 1, `record ${r.id} is not lost`);
            if (delivery !== 'at-least-once') assert.ok(n <= 1, `record ${r.id} is not read twice`);
          }
          // Records before the checkpoint are never read again, whatever the guarantee.
          const resumed = idCounts(plain(after.records));
          for (const r of before.records.slice(0, counted))
            assert.equal(resumed.get(Number(r.id)), undefined, `record ${r.id} was before the checkpoint`);
        } finally {
          await closeAll(again);
        }
      });
    });

    test('acknowledges upstream only in commit, after the checkpoint', async (t) => {
      if (adapter.noResume) return t.skip(adapter.noResume);
      await withInput(async (input, config) => {
        const records = rows(0, 30);
        await input.write(records);
        await input.end?.();
        const readers = await open(config, input);
        const got = await readUntil(readers, (r) => r.records.length >= records.length);
        const read = positions(readers);
        // A crash before any checkpoint: nothing was committed, so nothing may be skipped.
        await closeAll(readers);
        const fresh = await open(config, input);
        try {
          const again = await readUntil(fresh, (r) => r.records.length >= records.length);
          assert.deepEqual(
            byId(plain(again.records)),
            records,
            'a crash before the checkpoint loses nothing',
          );
          if (!adapter.upstreamPositions) return;
          // The checkpoint is durable: commit; a reader without restored positions resumes after it.
          for (const r of fresh) await r.commit?.(read[r.partition]);
        } finally {
          await closeAll(fresh);
        }
        assert.equal(got.records.length, records.length);
        const more = rows(30, 35);
        await input.write(more);
        const resumed = await open(config, input);
        try {
          const tail = await readUntil(resumed, (r) => r.records.length >= more.length);
          await sleep(300);
          assert.deepEqual(byId(plain(tail.records)), more, 'committed records are not delivered again');
        } finally {
          await closeAll(resumed);
        }
      });
    });

    test('a bounded source ends: its reads return null after the last record', async (t) => {
      await withInput(async (input, config) => {
        if (!spec.bounded?.(config)) return t.skip('the source is unbounded with these options');
        const records = rows(0, 10);
        await input.write(records);
        await input.end?.();
        const readers = await open(config, input);
        try {
          const got = await readUntil(readers, () => false);
          assert.ok(got.ended, 'every reader ended');
          assert.deepEqual(byId(plain(got.records)), records);
        } finally {
          await closeAll(readers);
        }
      });
    });

    test('input that does not decode becomes dead letters and counts as records in', async (t) => {
      await withInput(async (input, config) => {
        if (input.writeMalformed === undefined)
          return t.skip('the source decodes nothing: its input is records');
        await input.write(rows(0, 5));
        await input.writeMalformed(2);
        await input.write(rows(5, 8));
        await input.end?.();
        const readers = await open(config, input);
        try {
          const got = await readUntil(readers, (r) => r.records.length + r.failures.length >= 10);
          assert.equal(got.records.length, 8);
          assert.equal(got.failures.length, 2, 'each malformed input is a decode failure');
          for (const f of got.failures) assert.ok(f.payload.length > 0 && f.message.length > 0);
        } finally {
          await closeAll(readers);
        }
        // Through a job: dead letters with the reason, counted in the source's records in.
        const dir = await mkdtemp(join(tmpdir(), 'sluice-conformance-'));
        const store = `conformance-${spec.type}-${process.pid}-${runs++}`;
        // The spec under its own type, creating the source the adapter's way (its config type is
        // the spec's: the registry validates options with the spec's schema before `create`).
        const underTest = { ...spec, type: 'under_test', create: (c: Static<S>) => create(c, input) };
        const registry = new Registry([
          builtins,
          testing,
          { name: 'under-test', components: [underTest as SourceSpec] },
        ]);
        try {
          const yaml = [
            `name: ${pipeline()}`,
            `settings: { checkpoint: { interval: 0s, dir: ${JSON.stringify(dir)} } }`,
            'sources:',
            `  in: ${JSON.stringify({ type: 'under_test', ...input.options })}`,
            'sinks:',
            `  out: { type: memory, store: ${store} }`,
            `dead_letter: { type: memory, store: ${store}-dead }`,
          ].join('\n');
          const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
          const job = await Job.create(plan, { registry });
          const done = job.run();
          const deadline = Date.now() + timeout;
          while (job.metrics().recordsIn < 10 && Date.now() < deadline) await sleep(25);
          job.stop();
          const result = await done;
          assert.equal(result.metrics.sources.in.in, 10, 'records in count the failures');
          assert.equal(result.metrics.sources.in.dead, 2);
          const dead = memorySinkStore(`${store}-dead`).committed;
          assert.equal(dead.length, 2);
          for (const d of dead) {
            assert.equal(d.step, 'in');
            assert.equal(typeof d.message, 'string');
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    });

    test('kill -9 and restart: nothing acknowledged is lost; duplicates only at-least-once', async (t) => {
      const plugin = adapter.plugin;
      if (plugin === undefined)
        return t.skip('no `plugin` capability: the suite cannot run the source in a child process');
      if (adapter.create)
        return t.skip('the adapter creates the source itself, which a child process cannot');
      if (adapter.noResume) return t.skip(adapter.noResume);
      await withInput(async (input, config) => {
        if (spec.bounded?.(config))
          return t.skip(
            'bounded with these options: the run reads all of its input before it can be killed mid-stream',
          );
        const delivery = checkedDelivery(spec.delivery, spec.config, config);
        // A source of a table's changes (CDC) needs a sink that takes a changelog; the suite only
        // inserts, so every line is a `c` whose `after` is the record.
        const changes = spec.changelog?.(config) !== undefined;
        const published = async (): Promise<Row[]> => {
          const lines = await publishedLines(out);
          return changes ? lines.map(insertedRow) : lines;
        };
        const dir = await mkdtemp(join(tmpdir(), 'sluice-conformance-'));
        const out = join(dir, 'out');
        try {
          const yaml = [
            `name: ${pipeline()}`,
            `settings: { checkpoint: { interval: 100ms, dir: ${JSON.stringify(join(dir, 'checkpoints'))} }, batch_size: 20 }`,
            'sources:',
            `  in: ${JSON.stringify({ type: spec.type, ...input.options })}`,
            'sinks:',
            `  out: { type: file, path: ${JSON.stringify(join(out, 'records.jsonl'))}, format: json, roll: { interval: 100ms }${changes ? ', changelog: debezium' : ''} }`,
          ].join('\n');
          const run = { yaml, file: join(adapter.baseDir, 'pipeline.yaml'), plugins: [plugin] };
          await input.write(rows(0, 300));
          const first = new ChildJob(run, 60_000);
          try {
            await waitFor('a checkpoint', async () => (await checkpointCount(dir)) >= 1, 60_000, first.ended);
            await waitFor(
              'some records published',
              async () => (await published()).length > 0,
              60_000,
              first.ended,
            );
          } finally {
            first.kill('SIGKILL');
          }
          const killed = await first.exited;
          assert.equal(killed.signal, 'SIGKILL', `the first run was killed\n${killed.stderr}`);
          // Written while nothing runs: the system keeps them for the restarted reader.
          await input.write(rows(300, 500));
          await input.end?.();
          const second = new ChildJob(run, 60_000);
          try {
            await waitFor(
              'every record published',
              async () => new Set((await published()).map((r) => r.id)).size >= 500,
              60_000,
              second.ended,
            );
          } finally {
            second.kill('SIGTERM');
          }
          const ended = await second.exited;
          assert.equal(ended.code, 0, `the restarted run stops cleanly on SIGTERM\n${ended.stderr}`);
          accounted(await published(), rows(0, 500), delivery, t);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    });

    test('the server unavailable mid-stream: the source reconnects, nothing is lost', async (t) => {
      const server = adapter.server;
      if (server === undefined)
        return t.skip('no `server` capability: the suite cannot put a proxy in front of it');
      if (adapter.create) return t.skip('the adapter creates the source itself');
      const proxy = new OutageProxy(server);
      await proxy.up();
      const input = await adapter.input({ address: proxy.address });
      const dir = await mkdtemp(join(tmpdir(), 'sluice-conformance-'));
      try {
        const config = configOf<Static<S>>(spec.config, input.options);
        const delivery = checkedDelivery(spec.delivery, spec.config, config);
        const job = pipeline();
        const store = memorySinkStore(job);
        const ids = () => new Set(store.committed.map((r) => Number(r.id))).size;
        const result = await jobRun(
          input,
          dir,
          job,
          memorySink(spec, config, job),
          '',
          async (_job, failed) => {
            await input.write(rows(0, 30));
            await waitFor('the first records committed', () => ids() >= 30, timeout, failed);
            await proxy.down();
            await input.write(rows(30, 60));
            await sleep(1500);
            const connections = proxy.connections;
            await proxy.up();
            await waitFor(
              'every record committed after the server came back',
              () => ids() >= 60,
              Math.max(timeout, 60_000), // the client's next try waits out its capped backoff
              failed,
            );
            t.diagnostic(`${proxy.connections - connections} connections after the server came back`);
          },
        );
        assert.equal(result.status, 'stopped');
        accounted(
          store.committed.map((r) => ({ id: r.id })),
          rows(0, 60),
          delivery,
          t,
        );
      } finally {
        await proxy.down();
        await input.dispose?.();
        await rm(dir, { recursive: true, force: true });
      }
    });

    test('backpressure: a stuck pipeline stops the reading, which resumes when it moves', async (t) => {
      if (adapter.create) return t.skip('the adapter creates the source itself');
      await withInput(async (input, config) => {
        const delivery = checkedDelivery(spec.delivery, spec.config, config);
        const dir = await mkdtemp(join(tmpdir(), 'sluice-conformance-'));
        const job = pipeline();
        const gate = writeGate(job);
        gate.shut();
        try {
          // Below a broker's own queue limit (Mosquitto keeps 1,000 messages a session by default).
          const total = 600;
          const capacity = 100;
          const batch = 20;
          await input.write(rows(0, total));
          await input.end?.();
          const settings = `, batch_size: ${batch}, sink_queue_records: ${capacity}`;
          await jobRun(
            input,
            dir,
            job,
            `{ type: conformance_gate, gate: ${job} }`,
            settings,
            async (running, failed) => {
              try {
                await waitFor('the first write', () => gate.writesStarted >= 1, timeout, failed);
                await sleep(300);
                const read = running.metrics().recordsIn;
                await sleep(300);
                const later = running.metrics().recordsIn;
                const { records } = running.buffered();
                t.diagnostic(`stuck: ${read} then ${later} read, ${records} buffered`);
                assert.equal(later, read, 'reading stays stopped while the sink is stuck');
                assert.ok(
                  read < total / 2,
                  `the source stopped well before the end of its input (${read} read)`,
                );
                assert.ok(
                  records <= capacity + batch,
                  `at most ${capacity} + one batch buffered (${records})`,
                );
              } finally {
                // A job stopped with its sink held would wait for it at its final checkpoint.
                gate.open();
              }

              await waitFor(
                'every record through',
                () => new Set(gate.written.map((r) => r.id)).size >= total,
                Math.max(timeout, 60_000), // a source acknowledging only at checkpoints drains its window one checkpoint at a time
                failed,
              );
            },
          );
          accounted(
            gate.written.map((r) => ({ id: r.id })),
            rows(0, total),
            delivery === 'exactly-once' ? 'at-least-once' : delivery,
            t,
          );
        } finally {
          gate.open();
          await rm(dir, { recursive: true, force: true });
        }
      });
    });

    test('a poison message goes to the dead letters once and is not delivered again after a restart', async (t) => {
      if (adapter.noResume) return t.skip(adapter.noResume);
      await withInput(async (input, config) => {
        if (input.writeMalformed === undefined)
          return t.skip('the source decodes nothing: its input is records');
        if (spec.bounded?.(config))
          return t.skip('bounded with these options: a run that ended starts over from scratch, by design');
        const delivery = checkedDelivery(spec.delivery, spec.config, config);
        const dir = await mkdtemp(join(tmpdir(), 'sluice-conformance-'));
        try {
          const job = pipeline();
          const store = memorySinkStore(job);
          const dead = memorySinkStore(`${job}-dead`);
          const sink = memorySink(spec, config, job);
          await input.write(rows(0, 5));
          await input.writeMalformed(1);
          await input.write(rows(5, 10));
          await jobRun(input, dir, job, sink, '', async (_job, failed) => {
            await waitFor(
              'the records and the poison message',
              () => store.committed.length >= 10 && dead.committed.length >= 1,
              timeout,
              failed,
            );
          });
          // The restart resumes after the poison message: it is not dead-lettered again.
          await input.write(rows(10, 15));
          await jobRun(input, dir, job, sink, '', async (_job, failed) => {
            await waitFor(
              'the records after the restart',
              () => new Set(store.committed.map((r) => r.id)).size >= 15,
              timeout,
              failed,
            );
            await sleep(300);
          });
          t.diagnostic(`${dead.committed.length} dead letters for the one poison message`);
          accounted(
            store.committed.map((r) => ({ id: r.id })),
            rows(0, 15),
            delivery,
            t,
          );
          assert.ok(dead.committed.length >= 1, 'the poison message is a dead letter');
          if (delivery !== 'at-least-once')
            assert.equal(dead.committed.length, 1, 'the poison message is one dead letter, not read again');
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    });

    test('two workers share the work: each record read once across both', async (t) => {
      const shared = adapter.sharedWork;
      if (shared === undefined)
        return t.skip('no `sharedWork` capability: the system gives each reader all of the input');
      await withInput(async (input, config) => {
        const delivery = checkedDelivery(spec.delivery, spec.config, config);
        const worker = (n: number) =>
          open(configOf<Static<S>>(spec.config, shared.options?.(input.options, n) ?? input.options), input);
        const one = await worker(1);
        const two = await worker(2);
        try {
          await input.write(rows(0, 200));
          const seen: { worker: number; id: number }[] = [];
          const signal = new AbortController().signal;
          const deadline = Date.now() + timeout;
          const distinct = () => new Set(seen.map((s) => s.id)).size;
          // Each worker acknowledges what it read at once, as its checkpoint would.
          const step = async (readers: SourceReader[], worker: number) => {
            for (const r of readers) {
              const batch = await r.read(32, signal);
              if (batch === null) continue;
              for (const rec of batch.records) seen.push({ worker, id: Number(rec.id) });
              await r.commit?.(r.position());
            }
          };
          while (distinct() < 200 && Date.now() < deadline) {
            await step(one, 1);
            await step(two, 2);
          }
          // Anything either would still be given.
          for (let i = 0; i < 3; i++) {
            await step(one, 1);
            await step(two, 2);
          }
          const byWorker = [1, 2].map((w) => seen.filter((s) => s.worker === w).length);
          t.diagnostic(`worker 1 read ${byWorker[0]}, worker 2 read ${byWorker[1]}`);
          accounted(
            seen.map((s) => ({ id: s.id })),
            rows(0, 200),
            delivery,
            t,
          );
        } finally {
          await closeAll(one);
          await closeAll(two);
        }
      });
    });
  });
}
