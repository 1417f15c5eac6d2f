/**
 * A sink opened by a job is given its own folder inside the job's checkpoint folder
 * (`SinkContext.stateDir`), as sources are: `<checkpoint dir>/<pipeline>/sinks/<sink id>`.
 */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import Type from 'typebox';
import { defineSink, type Plugin } from '../spec.ts';
import { memoryChannel } from '../testing/index.ts';
import { Harness, planFrom, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';

/** The state folder each `state_probe` sink was opened with, by sink id. */
const seen = new Map<string, string | undefined>();

const probeSink = defineSink({
  type: 'state_probe',
  summary: 'Discards records; notes the state folder it was opened with (testing only).',
  delivery: 'at-least-once',
  config: Type.Object({}, { additionalProperties: false }),
  create: () => ({
    async open(ctx) {
      seen.set(ctx.id, ctx.stateDir);
    },
    async write() {
      return undefined;
    },
    async close() {},
  }),
});
const probe: Plugin = { name: 'state_probe', components: [probeSink] };
const registry = testRegistry(probe);
const h = new Harness();
afterEach(() => h.stopAll());

test('each sink of a job gets its own state folder under the pipeline’s checkpoint folder', async () => {
  const dir = await h.dir();
  const name = 'sink-state-dir';
  const channel = memoryChannel(name);
  const plan = planFrom(
    `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: memory, channel: ${name} }
sinks:
  first: { type: state_probe }
  second: { type: state_probe }
`,
    dir,
    registry,
  );
  const job = await Job.create(plan, { registry });
  const done = h.run(job);
  channel.end();
  assert.equal((await done).status, 'completed');
  assert.equal(seen.get('first'), join(dir, 'ckpt', name, 'sinks', 'first'));
  assert.equal(seen.get('second'), join(dir, 'ckpt', name, 'sinks', 'second'));
});
