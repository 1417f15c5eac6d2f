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
import { describe, test } from 'node:test';
import type { Static, TSchema } from 'typebox';
import { builtins } from '../builtins.ts';
import type { DecodeFailure, Source, SourceReader } from '../connector.ts';
import type { Row } from '../record.ts';
import { Registry } from '../registry.ts';
import { Job } from '../runtime/job.ts';
import type { SourceSpec } from '../spec.ts';
import { parsePipelineYaml } from '../yaml/load.ts';
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
  input(): Promise<SourceInput>;
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
  });
}
