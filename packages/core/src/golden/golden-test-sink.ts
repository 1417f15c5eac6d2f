/**
 * The `golden` sink of the golden-file harness: a transactional in-memory sink, like the testing
 * plugin's `memory` sink, that keeps each committed record with its row kind and event time, so a
 * case's main output can be compared as a changelog. Testing only; not part of the public surface.
 */

import Type from 'typebox';
import type { Sink, SinkBatch, SinkContext } from '../connector.ts';
import { INSERT, type Row, type RowKind } from '../record.ts';
import { CHANGELOG_MODES, defineSink, type Plugin } from '../spec.ts';
import { commitStore, prepareStore, reopenStore, type TransactionalStore } from '../testing/memory.ts';

/** One committed change: its row kind, the record and its event time. */
export interface GoldenChange {
  readonly kind: RowKind;
  readonly record: Row;
  readonly time: number;
}

/** What a `golden` sink named `name` holds: committed changes, and those written since. */
export class GoldenStore implements TransactionalStore<GoldenChange> {
  committed: GoldenChange[] = [];
  pending: GoldenChange[] = [];
  /** Pending changes per prepared checkpoint id. */
  readonly prepared = new Map<number, GoldenChange[]>();
}

const stores = new Map<string, GoldenStore>();

/** The store of the `golden` sink named `name` (created empty if needed). */
export function goldenStore(name: string): GoldenStore {
  let store = stores.get(name);
  if (!store) {
    store = new GoldenStore();
    stores.set(name, store);
  }
  return store;
}

/** Forgets the store named `name` (after a case's run has been read). */
export function dropGoldenStore(name: string): void {
  stores.delete(name);
}

class GoldenSink implements Sink {
  readonly #store: GoldenStore;
  constructor(store: GoldenStore) {
    this.#store = store;
  }
  async open(ctx: SinkContext): Promise<void> {
    reopenStore(this.#store, ctx.restored);
  }
  async write(batch: SinkBatch): Promise<undefined> {
    for (let i = 0; i < batch.records.length; i++)
      this.#store.pending.push({
        kind: batch.kinds?.[i] ?? INSERT,
        record: batch.records[i],
        time: batch.times[i],
      });
    return undefined;
  }
  async prepareCommit(checkpointId: number): Promise<unknown> {
    return prepareStore(this.#store, checkpointId);
  }
  async commit(checkpointId: number): Promise<void> {
    commitStore(this.#store, checkpointId);
  }
  async close(): Promise<void> {
    for (const rows of this.#store.prepared.values()) for (const r of rows) this.#store.committed.push(r);
    this.#store.prepared.clear();
    for (const r of this.#store.pending) this.#store.committed.push(r);
    this.#store.pending = [];
  }
  async abort(): Promise<void> {}
}

export const goldenSink = defineSink({
  type: 'golden',
  summary: 'Collects changes (row kind, record, event time) in a named in-memory store (golden tests only).',
  description:
    'Written changes stay pending until the checkpoint that covers them completes or the sink ' +
    'closes; a restart drops what was written after the restored checkpoint, so each change is ' +
    'committed exactly once.',
  delivery: 'exactly-once',
  config: Type.Object(
    { store: Type.String({ description: 'Name given to goldenStore().' }) },
    { additionalProperties: false },
  ),
  changelog: { consumes: () => CHANGELOG_MODES, hint: 'it takes every mode' },
  create(config) {
    return new GoldenSink(goldenStore(config.store));
  },
});

/** The golden harness's plugin: the `golden` sink. */
export const golden: Plugin = { name: 'golden', components: [goldenSink] };
