/**
 * The conformance suite every sink runs against its real target (Benthos' StreamTests, for
 * sinks): append; a changelog when its config takes one; a restart from a checkpoint; a record it
 * refuses for good; secrets kept out of errors and logs; the delivery guarantee its spec declares.
 *
 * A connector calls `sinkConformance(adapter)` at the top level of a test file; the adapter says
 * how to make a fresh target (a folder, a topic, a server) with the sink's options for it, and how
 * to read back what a reader of that target sees.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import type { Static, TSchema } from 'typebox';
import type { Sink, SinkBatch, SinkRejection } from '../connector.ts';
import { encodeKey } from '../operators/key.ts';
import {
  DELETE,
  type DeadLetter,
  INSERT,
  type Row,
  type RowKind,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../record.ts';
import { OutputRouter } from '../runtime/failure-router.ts';
import type { Job } from '../runtime/job.ts';
import { SinkRunner } from '../runtime/sink-runner.ts';
import type { SinkSpec } from '../spec.ts';
import { systemClock } from '../time.ts';
import { ChildJob, checkpointCount, jobOf, registryWith, UNDER_TEST, waitFor } from './conformance-jobs.ts';
import {
  byId,
  checkedDelivery,
  configOf,
  errorTexts,
  foldChanges,
  idCounts,
  keptLogger,
  secretValues,
  sinkContextOf,
  sleep,
} from './conformance-support.ts';
import { memoryChannel } from './memory.ts';
import { OutageProxy } from './services.ts';

/** One fresh place the sink writes to, and how to see what it holds. */
export interface SinkTarget {
  /** The sink's options for this target, as a pipeline file gives them (defaults are applied). */
  readonly options: { readonly [option: string]: unknown };
  /**
   * What a reader of the target sees now, decoded to records: published output only (committed
   * transactions, files under their final names). For a changelog target, the table the changelog
   * describes, folded by the records' `id` field.
   */
  read(): Promise<Row[]>;
  /** Releases the target (deletes a topic, stops a server). */
  dispose?(): Promise<void>;
}

export interface SinkConformance<S extends TSchema> {
  readonly spec: SinkSpec<S>;
  /** Why the suite cannot run here (its service is missing): every test is skipped with it. */
  readonly skip?: string | false;
  /** Names the suite, when one spec runs it with several configs (`kafka at_least_once`). */
  readonly label?: string;
  /** Folder relative paths resolve against. */
  readonly baseDir: string;
  /**
   * A fresh target; with `changelog`, one whose options take updating streams (keyed by `id`).
   * With `address` (only when `server` is given), options that reach the server through that
   * `host:port` (a proxy the suite cuts and slows); `read` and `dispose` still reach it directly.
   */
  target(options: { changelog: boolean; address?: string }): Promise<SinkTarget>;
  /**
   * The `host:port` of the target's server: runs the outage and slow-server tests, which put an
   * `OutageProxy` in front of it. Absent: they skip saying so.
   */
  readonly server?: string;
  /**
   * Why the outage test does not apply to this config although `server` is given (a sink that
   * fails the job on a broken connection by design, for a restart from the checkpoint).
   */
  readonly noOutage?: string;
  /**
   * Why the slow-server test does not apply although `server` is given (a sink that holds a
   * bounded part of its own before anything reaches the server, larger than the test's input).
   */
  readonly noSlowServer?: string;
  /**
   * The package whose plugin holds the spec (`@sluice/redis`; `@sluice/core` for a built-in): runs the kill -9 test, which runs
   * the sink in a child process. Absent: it skips saying so.
   */
  readonly plugin?: string;
  /** Creates the sink, when `spec.create` would write somewhere the test cannot read (stdout). */
  create?(config: Static<S>, target: SinkTarget): Sink;
  /** Whether the sink takes changelogs with some config (then `target({ changelog: true })` gives one). */
  readonly changelog?: boolean;
  /**
   * Whether a completed checkpoint's records are visible at once (default true). False for a sink
   * that publishes its open part only later (the `file` sink without `roll` publishes at the end):
   * the restart test then checks them after the restart's own checkpoint instead.
   */
  readonly publishesAtCheckpoint?: boolean;
  /** Whether `read` gives records in the order written (false: compared by `id`). Default true. */
  readonly ordered?: boolean;
  /** A record the append target's sink refuses for good, and a pattern of the reason it gives. */
  readonly refused?: { readonly record: Row; readonly reason: RegExp };
  /**
   * Options that make the sink fail (at open or at its first write: wrong credentials, nothing
   * listening) while holding `secret` in an option the spec marks secret.
   */
  secret?(): Promise<{ options: { readonly [option: string]: unknown }; secret: string }>;
}

/** Records `from`..`to` - 1 of the suite's data, `{ id, name, amount, tags }`. */
function rows(from: number, to: number): Row[] {
  const out: Row[] = [];
  for (let i = from; i < to; i++)
    out.push({ id: i, name: `record ${i}`, amount: i * 1.25, tags: ['a', `t${i % 3}`] });
  return out;
}

/** A batch of records, with every third one's JSON text and the key a `key_by(id)` would give. */
function batchOf(records: Row[], kinds?: RowKind[]): SinkBatch {
  const base = Date.UTC(2026, 0, 1);
  const batch: { -readonly [K in keyof SinkBatch]: SinkBatch[K] } = {
    records,
    times: records.map((r) => base + Number(r.id) * 1000),
    keys: records.map((r) => encodeKey([r.id])),
    texts: records.map((r, i) => (i % 3 === 0 ? jsonOf(r) : undefined)),
  };
  if (kinds) batch.kinds = kinds;
  return batch;
}

/** The JSON of a record, or undefined when it has none (a bigint). */
function jsonOf(record: Row): string | undefined {
  try {
    return JSON.stringify(record);
  } catch {
    return undefined;
  }
}

/**
 * Runs so far in this process, across every call: names of pipelines and memory stores stay
 * unique when one file runs a suite twice (the `postgres` sink in both `delivery` modes).
 */
let runs = 0;

/** Registers the sink conformance tests for `adapter`. */
export function sinkConformance<S extends TSchema>(adapter: SinkConformance<S>): void {
  const { spec } = adapter;
  const name = `sink conformance: ${adapter.label ?? spec.type}`;
  const ordered = adapter.ordered ?? true;
  const same = (actual: Row[], expected: Row[], what: string) =>
    ordered ? assert.deepEqual(actual, expected, what) : assert.deepEqual(byId(actual), byId(expected), what);

  async function withTarget<T>(
    changelog: boolean,
    run: (t: SinkTarget, config: Static<S>) => Promise<T>,
  ): Promise<T> {
    const target = await adapter.target({ changelog });
    try {
      return await run(target, configOf<Static<S>>(spec.config, target.options));
    } finally {
      await target.dispose?.();
    }
  }
  const create = (config: Static<S>, target: SinkTarget): Sink =>
    adapter.create ? adapter.create(config, target) : spec.create(config);
  const pipeline = () => `conformance-${spec.type}-${process.pid}-${Date.now().toString(36)}-${runs++}`;
  async function opened(
    config: Static<S>,
    target: SinkTarget,
    restored: unknown,
    job: string,
  ): Promise<Sink> {
    const sink = create(config, target);
    await sink.open(sinkContextOf(adapter.baseDir, restored, keptLogger(), job));
    return sink;
  }
  /** A completed checkpoint: prepare, (the checkpoint is durable), commit. */
  async function checkpoint(sink: Sink, id: number): Promise<unknown> {
    const state = await sink.prepareCommit?.(id);
    await sink.commit?.(id);
    return state;
  }
  const crash = (sink: Sink) => (sink.abort ? sink.abort() : sink.close());
  const timeout = 60_000;

  /**
   * A job of the sink in this process, from a `memory` channel of one partition, through an
   * `OutageProxy` in front of the server; `run` gets it running with the channel and the proxy,
   * and `stopped`, which stops the job and resolves once it has ended (its sink closed).
   */
  async function proxiedJob(
    settings: string,
    run: (
      job: Job,
      push: (records: Row[]) => void,
      proxy: OutageProxy,
      target: SinkTarget,
      stopped: () => Promise<void>,
    ) => Promise<void>,
  ): Promise<void> {
    const server = adapter.server;
    if (server === undefined) throw new Error('no server');
    const proxy = new OutageProxy(server);
    await proxy.up();
    const dir = await mkdtemp(join(tmpdir(), 'sluice-conformance-'));
    try {
      await withTarget(false, async () => {
        const target = await adapter.target({ changelog: false, address: proxy.address });
        try {
          const registry = registryWith(spec, (c: Static<S>) => create(c, target));
          const job_ = pipeline();
          const channel = memoryChannel(job_, ['p0']);
          const yaml = [
            `name: ${job_}`,
            `settings: { checkpoint: { interval: 100ms, dir: ${JSON.stringify(dir)} }, ${settings} }`,
            'sources:',
            `  in: { type: memory, channel: ${job_} }`,
            'sinks:',
            `  out: ${JSON.stringify({ type: UNDER_TEST, ...target.options })}`,
          ].join('\n');
          const job = await jobOf(yaml, join(adapter.baseDir, 'pipeline.yaml'), registry);
          let failure: unknown;
          const done = job.run().catch((err: unknown) => {
            failure = err;
          });
          try {
            // A sink may publish its last records when it is closed, after the job's last checkpoint.
            const stopped = async () => {
              job.stop();
              await done;
            };
            await run(job, (records) => channel.push('p0', ...records), proxy, target, stopped);
          } finally {
            await proxy.up().catch(() => {});
            proxy.throttle(undefined);
            channel.end();
            await done;
          }
          if (failure !== undefined) throw failure;
        } finally {
          await target.dispose?.();
        }
      });
    } finally {
      await proxy.down();
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Every record of `expected` in what `target` shows, once where the guarantee says so. */
  async function allThere(target: SinkTarget, expected: Row[], delivery: string, t: TestContext) {
    const counts = idCounts(await target.read());
    let duplicates = 0;
    for (const r of expected) {
      const n = counts.get(Number(r.id)) ?? 0;
      if (delivery !== 'at-most-once') assert.ok(n >= 1, `record ${r.id} is not lost`);
      else assert.ok(n <= 1, `record ${r.id} at most once`);
      if (delivery === 'exactly-once') assert.equal(n, 1, `record ${r.id} exactly once`);
      duplicates += Math.max(0, n - 1);
    }
    t.diagnostic(`${expected.length} records, ${duplicates} duplicates (${delivery})`);
  }

  describe(name, { skip: adapter.skip || false }, () => {
    test('declares a delivery guarantee that fits its options', async () => {
      await withTarget(false, async (_target, config) => {
        checkedDelivery(spec.delivery, spec.config, config);
        assert.ok(spec.description, 'the description says what the guarantee means for this system');
      });
    });

    test('append: every record of every batch is written, as it was given', async () => {
      await withTarget(false, async (target, config) => {
        const sink = await opened(config, target, undefined, pipeline());
        const records = rows(0, 48);
        for (const [from, to] of [
          [0, 1],
          [1, 8],
          [8, 48],
        ]) {
          assert.equal(await sink.write(batchOf(records.slice(from, to))), undefined, 'nothing refused');
        }
        await checkpoint(sink, 1);
        await sink.close();
        same(await target.read(), records, 'what a reader sees');
      });
    });

    test('changelog: inserts, updates and deletes fold into the table', async (t) => {
      if (!adapter.changelog) return t.skip('the sink takes appends only');
      await withTarget(true, async (target, config) => {
        const modes = spec.changelog?.consumes(config) ?? ['append'];
        assert.ok(modes.includes('retract'), 'the changelog target takes retract streams');
        const sink = await opened(config, target, undefined, pipeline());
        const v = (id: number, value: string): Row => ({ id, value });
        const changes: [Row[], RowKind[]][] = [
          [
            [v(1, 'a'), v(2, 'b'), v(3, 'c')],
            [INSERT, INSERT, INSERT],
          ],
          [
            [v(2, 'b'), v(2, 'b2'), v(1, 'a'), v(4, 'd')],
            [UPDATE_BEFORE, UPDATE_AFTER, DELETE, INSERT],
          ],
          [
            [v(3, 'c'), v(3, 'c2'), v(4, 'd')],
            [UPDATE_BEFORE, UPDATE_AFTER, UPDATE_BEFORE],
          ],
        ];
        for (const [records, kinds] of changes)
          assert.equal(await sink.write(batchOf(records, kinds)), undefined);
        await checkpoint(sink, 1);
        await sink.close();
        const expected = foldChanges(
          changes.flatMap(([r]) => r),
          changes.flatMap(([, k]) => k),
          'id',
        );
        assert.deepEqual(byId(await target.read()), byId(expected));
      });
    });

    test('restart: a completed checkpoint’s records are there, nothing else is published after a failure', async () => {
      await withTarget(false, async (target, config) => {
        const delivery = checkedDelivery(spec.delivery, spec.config, config);
        const job = pipeline();
        const before = rows(0, 20);
        const after = rows(20, 35);
        const first = await opened(config, target, undefined, job);
        await first.write(batchOf(before));
        const state = await checkpoint(first, 1);
        await first.write(batchOf(after));
        await crash(first);
        const seen = await target.read();
        const counts = idCounts(seen);
        if (adapter.publishesAtCheckpoint ?? true) {
          for (const r of before)
            assert.equal(counts.get(Number(r.id)), 1, `record ${r.id} of the checkpoint is there`);
        }
        if (delivery === 'exactly-once') {
          for (const r of after)
            assert.equal(counts.get(Number(r.id)), undefined, `record ${r.id} is not published`);
          for (const [id, n] of counts) assert.equal(n, 1, `record ${id} published once`);
        }
        // The job restarts from the checkpoint and replays what came after it.
        const second = await opened(config, target, state, job);
        await second.write(batchOf(after));
        await checkpoint(second, 2);
        await second.close();
        const final = await target.read();
        const total = idCounts(final);
        for (const r of [...before, ...after]) {
          const n = total.get(Number(r.id)) ?? 0;
          if (delivery === 'at-most-once') assert.ok(n <= 1, `record ${r.id} at most once`);
          else assert.ok(n >= 1, `record ${r.id} is not lost`);
          if (delivery === 'exactly-once') assert.equal(n, 1, `record ${r.id} exactly once`);
          else if (Number(r.id) < before.length) assert.equal(n, 1, `record ${r.id} of the checkpoint once`);
        }
        if (delivery === 'exactly-once') same(final, [...before, ...after], 'each record once, in order');
      });
    });

    test('restart: a checkpoint prepared but not committed before a crash is completed by the restart', async (t) => {
      await withTarget(false, async (target, config) => {
        const job = pipeline();
        const first = await opened(config, target, undefined, job);
        if (!first.prepareCommit) {
          await first.close();
          return t.skip('the sink takes no part in checkpoints (no prepareCommit)');
        }
        const records = rows(0, 12);
        await first.write(batchOf(records));
        // The checkpoint became durable; the process died before `commit`.
        const state = await first.prepareCommit(1);
        await crash(first);
        const second = await opened(config, target, state, job);
        await checkpoint(second, 2);
        await second.close();
        same(await target.read(), records, 'the durable checkpoint’s records are published once');
      });
    });

    test('a refused record goes to the dead letters with the reason; the rest of the batch is written', async (t) => {
      const refused = adapter.refused;
      if (!refused) return t.skip('the sink refuses no record (it takes any JSON-like value)');
      await withTarget(false, async (target, config) => {
        const sink = await opened(config, target, undefined, pipeline());
        const letters: DeadLetter[] = [];
        const collector: Sink = {
          async open() {},
          async write(batch) {
            for (const r of batch.records) letters.push(r as unknown as DeadLetter);
            return undefined;
          },
          async close() {},
        };
        const router = new OutputRouter(keptLogger(), systemClock);
        const capacity = { records: 1 << 14, bytes: 1 << 26 };
        router.deadLetters = new SinkRunner('$dead_letter', collector, capacity, () => {});
        const runner = new SinkRunner('out', sink, capacity, (b: SinkBatch, r: SinkRejection[]) =>
          router.rejected('out', b, r),
        );
        const good = rows(0, 10);
        const records = [...good.slice(0, 4), refused.record, ...good.slice(4)];
        runner.enqueue(batchOf(records));
        await runner.drain();
        // Through the runner, as a job does: a sink may find a refusal only at the checkpoint or
        // the close (`Sink.takeRejections`).
        await runner.prepareCommit(1);
        await runner.commit(1);
        await runner.close();
        await router.deadLetters.drain();
        assert.equal(runner.rejected, 1);
        assert.equal(letters.length, 1, 'one dead letter');
        assert.equal(letters[0].step, 'out');
        assert.equal(letters[0].code, 'SINK_REJECTED');
        assert.match(letters[0].message, refused.reason);
        if (jsonOf(refused.record) === undefined)
          assert.equal(typeof letters[0].payload, 'string', 'as JSON text');
        else assert.deepEqual(letters[0].payload, refused.record);
        same(await target.read(), good, 'the rest of the batch is written');
      });
    });

    test('secrets never appear in errors or logs', async (t) => {
      if (!adapter.secret) return t.skip('the sink has no secret option');
      const { options, secret } = await adapter.secret();
      const config = configOf<Static<S>>(spec.config, options);
      assert.ok(
        secretValues(spec.config, config).some((v) => v.includes(secret)),
        'the option holding the secret is marked `secret` in the spec',
      );
      const log = keptLogger();
      const target: SinkTarget = { options, read: async () => [] };
      const sink = create(config, target);
      let failure: unknown;
      try {
        await sink.open(sinkContextOf(adapter.baseDir, undefined, log, pipeline()));
        await sink.write(batchOf(rows(0, 3)));
        await checkpoint(sink, 1);
      } catch (err) {
        failure = err;
      } finally {
        await crash(sink).catch(() => {});
      }
      assert.ok(failure !== undefined, 'the sink fails with these options');
      for (const text of errorTexts(failure)) assert.ok(!text.includes(secret), `no secret in: ${text}`);
      for (const line of log.lines)
        assert.ok(!JSON.stringify(line).includes(secret), 'no secret in the logs');
    });

    test('kill -9 mid-write and restart: nothing acknowledged is lost; duplicates only at-least-once', async (t) => {
      const plugin = adapter.plugin;
      if (plugin === undefined)
        return t.skip('no `plugin` capability: the suite cannot run the sink in a child process');
      if (adapter.create) return t.skip('the adapter creates the sink itself, which a child process cannot');
      await withTarget(false, async (target, config) => {
        const delivery = checkedDelivery(spec.delivery, spec.config, config);
        const dir = await mkdtemp(join(tmpdir(), 'sluice-conformance-'));
        try {
          // Ids 0..999: clear of the ids of the adapters' refused records (1000).
          const total = 1000;
          const yaml = [
            `name: ${pipeline()}`,
            `settings: { checkpoint: { interval: 100ms, dir: ${JSON.stringify(dir)} }, batch_size: 50 }`,
            'sources:',
            `  in: { type: generate, template: orders, count: ${total}, rate: 400, partitions: 1 }`,
            'steps:',
            '  - id: shape',
            '    type: map',
            '    select: []',
            `    fields: { id: seq, name: "'record ' || CAST(seq AS TEXT)", amount: "seq * 1.25" }`,
            'sinks:',
            `  out: ${JSON.stringify({ type: spec.type, ...target.options })}`,
          ].join('\n');
          const run = { yaml, file: join(adapter.baseDir, 'pipeline.yaml'), plugins: [plugin] };
          const first = new ChildJob(run, timeout);
          try {
            // Mid-stream: two checkpoints done, the rest of the input still to come.
            await waitFor(
              'two checkpoints',
              async () => (await checkpointCount(dir)) >= 2,
              timeout,
              first.ended,
            );
            await sleep(30);
          } finally {
            first.kill('SIGKILL');
          }
          const killed = await first.exited;
          assert.equal(killed.signal, 'SIGKILL', `the first run was killed mid-stream\n${killed.stderr}`);
          const second = await new ChildJob(run, timeout).exited;
          assert.equal(second.code, 0, `the restarted run completes\n${second.stderr}`);
          assert.match(second.stdout, /"status":"completed"/);
          const expected = Array.from({ length: total }, (_, id) => ({ id }));
          await allThere(target, expected, delivery, t);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    });

    test('the server unavailable mid-stream: the sink retries with capped backoff, nothing is lost', async (t) => {
      if (adapter.noOutage) return t.skip(adapter.noOutage);
      if (adapter.server === undefined)
        return t.skip('no `server` capability: the suite cannot put a proxy in front of it');
      const delivery = checkedDelivery(spec.delivery, spec.config, await optionsOnly(adapter));
      await proxiedJob('batch_size: 20', async (job, push, proxy, target, stopped) => {
        const failed = () => (job.status === 'failed' ? 'the job failed' : undefined);
        push(rows(0, 100));
        await waitFor(
          'the first records written',
          () => (job.metrics().sinks.out?.written ?? 0) >= 100,
          timeout,
          failed,
        );
        await proxy.down();
        push(rows(100, 200));
        await sleep(1500);
        const during = job.metrics().sinks.out?.written ?? 0;
        const connections = proxy.connections;
        await proxy.up();
        await waitFor(
          'every record written after the server came back',
          () => (job.metrics().sinks.out?.written ?? 0) >= 200,
          timeout,
          failed,
        );
        await waitFor(
          'a checkpoint after the outage',
          async () => {
            const before = job.metrics().lastCheckpointId ?? 0;
            await sleep(250);
            return (job.metrics().lastCheckpointId ?? 0) > before;
          },
          timeout,
          failed,
        );
        t.diagnostic(
          `${during} written while down; ${proxy.connections - connections} connections after it came back`,
        );
        await stopped();
        await allThere(target, rows(0, 200), delivery, t);
      });
    });

    test('a slow server: backpressure reaches the source, the job’s buffers stay bounded', async (t) => {
      if (adapter.noSlowServer) return t.skip(adapter.noSlowServer);
      if (adapter.server === undefined)
        return t.skip('no `server` capability: the suite cannot throttle it through a proxy');
      const delivery = checkedDelivery(spec.delivery, spec.config, await optionsOnly(adapter));
      const capacity = 200;
      const batch = 20;
      const total = 4000;
      await proxiedJob(
        `batch_size: ${batch}, sink_queue_records: ${capacity}`,
        async (job, push, proxy, target, stopped) => {
          const failed = () => (job.status === 'failed' ? 'the job failed' : undefined);
          proxy.throttle(16_384);
          push(rows(0, total));
          let most = 0;
          let mostBytes = 0;
          for (let i = 0; i < 60; i++) {
            const { records, bytes } = job.buffered();
            most = Math.max(most, records);
            mostBytes = Math.max(mostBytes, bytes);
            await sleep(25);
          }
          const read = job.metrics().recordsIn;
          const written = job.metrics().sinks.out?.written ?? 0;
          t.diagnostic(
            `throttled: ${read} read, ${written} written, at most ${most} records (${mostBytes} bytes) buffered`,
          );
          assert.ok(most <= capacity + batch, `at most ${capacity} + one batch buffered (${most})`);
          assert.ok(
            read - written <= capacity + 2 * batch,
            `the source reads no further than the queue takes (${read} read, ${written} written)`,
          );
          assert.ok(read < total, 'the source stopped reading while the server was slow');
          proxy.throttle(undefined);
          await waitFor(
            'every record written',
            () => (job.metrics().sinks.out?.written ?? 0) >= total,
            timeout,
            failed,
          );
          await stopped();
          await allThere(target, rows(0, total), delivery, t);
        },
      );
    });
  });
}

/** The options of a target made only to read them (its delivery guarantee); the target is disposed. */
async function optionsOnly<S extends TSchema>(adapter: SinkConformance<S>): Promise<Static<S>> {
  const target = await adapter.target({ changelog: false });
  try {
    return configOf<Static<S>>(adapter.spec.config, target.options);
  } finally {
    await target.dispose?.();
  }
}
