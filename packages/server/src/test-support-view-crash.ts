/**
 * A child process for `view-crash.test.ts`: runs `viewCrashPipeline` in `argv[2]` with its view on
 * disk and dies by SIGKILL where `argv[3]` says — `before-write:<id>` when checkpoint `<id>` is
 * about to be written (the view's store has committed it, the job's checkpoint is not durable),
 * `after-write:<id>` once it is durable (before the sinks hear of it) — or, with `run`, runs on
 * and prints `checkpoint <id>` after each checkpoint is durable, for the parent to kill it at
 * some point between checkpoints.
 */

import { join } from 'node:path';
import {
  builtins,
  type CheckpointStore,
  type CheckpointStoreContext,
  Job,
  localCheckpointStore,
  parsePipelineYaml,
  Registry,
} from '@sluice/core';
import { server } from './index.ts';

/** The pipeline: per-customer totals of generated orders, as a view on `store`. */
export const viewCrashPipeline = (name: string, dir: string, store: 'memory' | 'disk', changes = 10_000) => `
name: ${name}
settings: { checkpoint: { interval: 40ms, dir: ${JSON.stringify(dir)} } }
sources:
  orders: { type: generate, template: orders, count: 30000, rate: 15000, seed: 5 }
steps:
  - id: totals
    type: aggregate
    key: [customer_id]
    fields: { orders: count(*), amount: sum(amount) }
sinks:
  by_customer: { type: view, store: ${store}, changes: ${changes}, checkpoint_changes: 500, cache_mb: 1 }
`;

/** Creates the job of `viewCrashPipeline(name, dir, store)`, its checkpoint store wrapped by `wrap`. */
export function createCrashJob(
  name: string,
  dir: string,
  store: 'memory' | 'disk',
  wrap?: (inner: CheckpointStore) => CheckpointStore,
  changes?: number,
): Promise<Job> {
  const registry = new Registry([builtins, server]);
  const plan = parsePipelineYaml(viewCrashPipeline(name, dir, store, changes), join(dir, 'p.yaml'), {
    registry,
  });
  const checkpointStore = (ctx: CheckpointStoreContext) => {
    const inner = localCheckpointStore(ctx);
    return wrap ? wrap(inner) : inner;
  };
  return Job.create(plan, { registry, checkpointStore });
}

/** `inner` with its `write` calling `before` and `after` around the real one. */
function around(
  inner: CheckpointStore,
  before: (id: number) => void,
  after: (id: number) => void,
): CheckpointStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'write')
        return async (id: number, bytes: Uint8Array) => {
          before(id);
          await target.write(id, bytes);
          after(id);
        };
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const kill = () => process.kill(process.pid, 'SIGKILL');

if (import.meta.main) {
  const [dir, mode] = process.argv.slice(2);
  const [where, at] = mode.split(':');
  const id = Number(at);
  const job = await createCrashJob('view-crash', dir, 'disk', (inner) =>
    around(
      inner,
      (n) => {
        if (where === 'before-write' && n === id) kill();
      },
      (n) => {
        if (where === 'after-write' && n === id) kill();
        process.stdout.write(`checkpoint ${n}\n`);
      },
    ),
  );
  await job.run();
  process.stdout.write('completed\n');
}
