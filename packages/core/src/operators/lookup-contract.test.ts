/**
 * The lookup contract as the step uses it, through a lookup type registered by a test plugin
 * (as a storage connector would register one): opened before the first call and closed once at
 * the end, calls of at most `maxKeys` distinct keys, a key's transient error retried for that key
 * alone, a rejected call failing all its keys.
 */

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import Type from 'typebox';
import { SluiceError } from '../errors.ts';
import type { Lookup, LookupAnswer, LookupKey } from '../lookup.ts';
import { Harness, planFrom, testRegistry } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { defineLookup } from '../spec.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';

const h = new Harness();
afterEach(() => h.stopAll());

/** What the `recording` lookup saw. */
const events: string[] = [];
const calls: LookupKey[][] = [];
const asked = new Map<string, number>();

class RecordingLookup implements Lookup {
  readonly maxKeys = 5;
  async open(): Promise<void> {
    events.push('open');
  }
  async get(keys: readonly LookupKey[]): Promise<LookupAnswer[]> {
    if (!events.includes('open')) throw new Error('get before open');
    calls.push([...keys]);
    if (keys.some((k) => k[0] === 'reject-all'))
      throw new SluiceError('LOOKUP_FAILED', 'the store refused the query');
    return keys.map(([k]) => {
      const id = String(k);
      const n = (asked.get(id) ?? 0) + 1;
      asked.set(id, n);
      if (id === 'once-unavailable' && n === 1) return new SluiceError('LOOKUP_UNAVAILABLE', 'shard moving');
      if (id.startsWith('none')) return null;
      return { id, n };
    });
  }
  async close(): Promise<void> {
    events.push('close');
  }
}

const recording = defineLookup({
  type: 'recording',
  summary: 'Records what the step asks.',
  config: Type.Object({}, { additionalProperties: false }),
  create: () => new RecordingLookup(),
});
const registry = testRegistry({ name: 'test-lookups', components: [recording] });

async function planFor(name: string) {
  return planFrom(
    `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: 64 }
sources:
  in: { type: memory, channel: ${name} }
steps:
  - id: enrich
    type: lookup
    input: in
    table: { type: recording }
    key: k
    on_miss: drop
    retries: 1
sinks:
  out: { type: memory, store: ${name}-out, input: enrich }
dead_letter: { type: memory, store: ${name}-dead }
`,
    await h.dir(),
    registry,
  );
}

test('calls take at most maxKeys distinct keys; a transient key error is retried for that key alone; a rejection fails every key of the call', async () => {
  const plan = await planFor('contract');
  const channel = memoryChannel('contract');
  const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
  assert.deepEqual(events, ['open'], 'opened when the job opens');
  const running = h.run(job);
  const keys = ['a', 'b', 'a', 'c', 'd', 'e', 'f', 'g', 'once-unavailable', 'none1', 'a', 'h'];
  channel.push('p0', ...keys.map((k, i) => ({ i, k })));
  channel.end();
  assert.equal((await running).status, 'completed');
  assert.deepEqual(events, ['open', 'close'], 'closed once at the end');
  assert.ok(calls.every((c) => c.length <= 5 && new Set(c.map(String)).size === c.length));
  assert.deepEqual(
    calls.flat().map(String).sort(),
    ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'none1', 'once-unavailable', 'once-unavailable'].sort(),
    'each distinct key asked once; only the failed key again',
  );
  assert.deepEqual(calls.at(-1), [['once-unavailable']]);
  const out = memorySinkStore('contract-out').committed;
  assert.deepEqual(
    out.map((r) => r.k),
    keys.filter((k) => k !== 'none1'),
  );
  assert.deepEqual(out.find((r) => r.k === 'once-unavailable')?.enrich, { id: 'once-unavailable', n: 2 });

  events.length = 0;
  calls.length = 0;
  const channel2 = memoryChannel('contract2');
  const rejected = await Job.create(await planFor('contract2'), {
    registry,
    clock: new ManualClock(0),
    tickInterval: 5,
  });
  const run2 = h.run(rejected);
  channel2.push('p0', { i: 100, k: 'reject-all' }, { i: 101, k: 'zz' });
  channel2.end();
  assert.equal((await run2).status, 'completed');
  const dead = memorySinkStore('contract2-dead').committed;
  assert.deepEqual(
    dead.map((d) => [d.code, (d.payload as { k: string }).k]),
    [
      ['LOOKUP_FAILED', 'reject-all'],
      ['LOOKUP_FAILED', 'zz'],
    ],
  );
  assert.match(String(dead[0].message), /looking up k = 'reject-all': the store refused the query/);

  events.length = 0;
  const channel3 = memoryChannel('contract3');
  const failing = await Job.create(await planFor('contract3'), {
    registry,
    clock: new ManualClock(0),
    tickInterval: 5,
  });
  const run3 = h.run(failing);
  channel3.push('p0', { i: 200, k: 'a' });
  channel3.crash('p0');
  await assert.rejects(run3, /simulated crash/);
  assert.deepEqual(events, ['open', 'close'], 'closed when the job fails too');
});
