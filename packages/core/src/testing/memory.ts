/**
 * In-memory source and sink for engine tests: a scripted source whose partitions the test feeds
 * record by record (with end-of-input and crash markers), and a transactional sink that keeps
 * what was committed apart from what is pending, so a crash test can see exactly what survived.
 *
 * Channels are looked up by name in a process-wide table, so plans stay serializable.
 */

import Type from 'typebox';
import type { Sink, SinkBatch, SinkContext, SourceBatch, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { INSERT, type Row, type RowKind } from '../record.ts';
import { CHANGELOG_MODES, defineSink, defineSource, type Plugin } from '../spec.ts';

type Entry =
  | { kind: 'records'; records: Row[]; texts?: string[] }
  | { kind: 'end' }
  /** A crash happens once: a reader restarted before it replays past it. */
  | { kind: 'crash'; message: string; happened?: boolean };

/** A scripted partition: the test pushes entries; the source's reader takes them in order. */
class Feed {
  readonly entries: Entry[] = [];
  #wake: (() => void) | undefined;

  push(entry: Entry): void {
    this.entries.push(entry);
    this.#wake?.();
  }

  /** Resolves when an entry is available or after `ms`. */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.entries.length > 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }
}

/** The test-facing side of a memory source: feed partitions, end them, or crash the reader. */
export class MemoryChannel {
  readonly partitions: readonly string[];
  /** Every record ever pushed, per partition; a restarted source replays from its position. */
  readonly #feeds = new Map<string, Feed>();

  constructor(partitions: readonly string[]) {
    this.partitions = partitions;
    for (const p of partitions) this.#feeds.set(p, new Feed());
  }

  feed(partition: string): Feed {
    const f = this.#feeds.get(partition);
    if (!f) throw new Error(`memory channel has no partition '${partition}'`);
    return f;
  }

  /** Appends records to a partition. */
  push(partition: string, ...records: Row[]): this {
    this.feed(partition).push({ kind: 'records', records });
    return this;
  }

  /** Appends records given as JSON texts: the reader parses them and hands the texts along. */
  pushTexts(partition: string, ...texts: string[]): this {
    this.feed(partition).push({ kind: 'records', records: texts.map((t) => JSON.parse(t) as Row), texts });
    return this;
  }

  /** Marks the end of a partition's input. */
  end(partition?: string): this {
    for (const p of partition === undefined ? this.partitions : [partition])
      this.feed(p).push({ kind: 'end' });
    return this;
  }

  /**
   * Makes the read of a partition that reaches this point fail as if the process crashed there.
   * The crash happens once: a reader restarted from an earlier position replays past it.
   */
  crash(partition: string, message = 'simulated crash'): this {
    this.feed(partition).push({ kind: 'crash', message });
    return this;
  }
}

const channels = new Map<string, MemoryChannel>();
const sinks = new Map<string, MemorySinkStore>();

/** Creates (or replaces) the channel a `memory` source named `name` reads. */
export function memoryChannel(name: string, partitions: readonly string[] = ['p0']): MemoryChannel {
  const channel = new MemoryChannel(partitions);
  channels.set(name, channel);
  return channel;
}

/** What a `memory` sink named `name` holds: committed records, and those written since. */
export class MemorySinkStore implements TransactionalStore<Row> {
  committed: Row[] = [];
  pending: Row[] = [];
  /** Pending records per prepared checkpoint id. */
  prepared = new Map<number, Row[]>();
  closed = false;
  /** Every record written, with its text and, when the sink takes changelogs, its row kind. */
  written: { record: Row; text: string | undefined; kind?: RowKind }[] = [];
  /** Everything visible to a reader: committed records, plus the rest once the sink closed. */
  get records(): Row[] {
    return this.committed;
  }
}

/** The store of the `memory` sink named `name` (created empty if needed). */
export function memorySinkStore(name: string): MemorySinkStore {
  let store = sinks.get(name);
  if (!store) {
    store = new MemorySinkStore();
    sinks.set(name, store);
  }
  return store;
}

class ChannelReader implements SourceReader {
  readonly partition: string;
  readonly #feed: Feed;
  #next: number;
  /** Records of entry `#next` already returned. */
  #within: number;

  constructor(partition: string, feed: Feed, start: unknown) {
    this.partition = partition;
    this.#feed = feed;
    const [next, within] = Array.isArray(start) ? start : [start, 0];
    this.#next = typeof next === 'number' ? next : 0;
    this.#within = typeof within === 'number' ? within : 0;
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    const entries = this.#feed.entries;
    while (this.#next < entries.length) {
      const entry = entries[this.#next];
      if (entry.kind !== 'crash') break;
      this.#next++;
      if (!entry.happened) {
        entry.happened = true;
        throw new SluiceError('INTERNAL', entry.message);
      }
    }
    if (this.#next >= entries.length) await this.#feed.wait(50, signal);
    if (this.#next >= entries.length) return { records: [] };
    const entry = entries[this.#next];
    if (entry.kind === 'end') return null;
    if (entry.kind === 'crash') return { records: [] };
    const entryIndex = this.#next;
    const from = this.#within;
    const to = Math.min(entry.records.length, from + max);
    if (to < entry.records.length) {
      this.#within = to;
    } else {
      this.#next++;
      this.#within = 0;
    }
    const offsets: string[] = [];
    for (let i = from; i < to; i++) offsets.push(`${entryIndex}:${i}`);
    const batch: SourceBatch = { records: entry.records.slice(from, to), offsets };
    if (entry.texts) batch.texts = entry.texts.slice(from, to);
    return batch;
  }

  /** The next entry, or `[entry, record]` when a read stopped inside an entry (batch_size). */
  position(): unknown {
    return this.#within === 0 ? this.#next : [this.#next, this.#within];
  }

  async close(): Promise<void> {}
}

export const memorySource = defineSource({
  type: 'memory',
  summary: 'Reads records a test pushes into a named in-memory channel (testing only).',
  description:
    'Each partition resumes at the entry and record of its checkpointed position: a restart reads ' +
    'exactly what came after it.',
  delivery: 'exactly-once',
  config: Type.Object(
    { channel: Type.String({ description: 'Name given to memoryChannel().' }) },
    { additionalProperties: false },
  ),
  create(config) {
    return {
      async open(ctx) {
        const channel = channels.get(config.channel);
        if (!channel)
          throw new SluiceError('CONFIG_INVALID', `no memory channel '${config.channel}'`, { step: ctx.id });
        return channel.partitions.map((p) => new ChannelReader(p, channel.feed(p), ctx.restored[p]));
      },
    };
  },
});

/**
 * The records of a transactional in-memory sink (the `memory` sink's, the golden harness's):
 * written ones stay `pending` until a checkpoint prepares them, and are `committed` once it
 * completes.
 */
export interface TransactionalStore<T> {
  committed: T[];
  pending: T[];
  /** Pending records per prepared checkpoint id, in id order. */
  readonly prepared: Map<number, T[]>;
}

/**
 * Opens `store` for a sink restored from `restored` (what `prepareStore` returned, or undefined
 * on a fresh start): drops what was written after that checkpoint was prepared, commits what it
 * prepared, and forgets later preparations — so each record is committed exactly once.
 */
export function reopenStore<T>(store: TransactionalStore<T>, restored: unknown): void {
  store.pending = [];
  const r = restored as { committed: number; id: number } | undefined;
  if (r !== undefined) {
    commitStore(store, r.id);
    store.committed.length = Math.min(store.committed.length, r.committed);
  }
  store.prepared.clear();
}

/** Prepares what is pending for checkpoint `checkpointId`; returns the sink's state for it. */
export function prepareStore<T>(
  store: TransactionalStore<T>,
  checkpointId: number,
): { committed: number; id: number } {
  store.prepared.set(checkpointId, store.pending);
  store.pending = [];
  let total = store.committed.length;
  for (const rows of store.prepared.values()) total += rows.length;
  return { committed: total, id: checkpointId };
}

/** Commits what checkpoints up to `checkpointId` prepared. */
export function commitStore<T>(store: TransactionalStore<T>, checkpointId: number): void {
  for (const [id, rows] of store.prepared) {
    if (id > checkpointId) break;
    for (const r of rows) store.committed.push(r);
    store.prepared.delete(id);
  }
}

class StoreSink implements Sink {
  readonly #store: MemorySinkStore;
  readonly #changelog: boolean;
  constructor(store: MemorySinkStore, changelog: boolean) {
    this.#store = store;
    this.#changelog = changelog;
  }
  async open(ctx: SinkContext): Promise<void> {
    this.#store.closed = false;
    reopenStore(this.#store, ctx.restored);
  }
  async write(batch: SinkBatch): Promise<undefined> {
    const { records, texts, kinds } = batch;
    for (let i = 0; i < records.length; i++) {
      this.#store.pending.push(records[i]);
      const text = texts?.[i];
      this.#store.written.push(
        this.#changelog
          ? { record: records[i], text, kind: kinds?.[i] ?? INSERT }
          : { record: records[i], text },
      );
    }
    return undefined;
  }
  async prepareCommit(checkpointId: number): Promise<unknown> {
    return prepareStore(this.#store, checkpointId);
  }
  async commit(checkpointId: number): Promise<void> {
    commitStore(this.#store, checkpointId);
  }
  async close(): Promise<void> {
    this.#store.closed = true;
  }
}

export const memorySink = defineSink({
  type: 'memory',
  summary: 'Collects records in a named in-memory store, committed at checkpoints (testing only).',
  description:
    'Written records stay pending until the checkpoint that covers them completes; a restart ' +
    'drops what was written after the restored checkpoint and commits what it prepared, so each ' +
    'record is committed exactly once.',
  delivery: 'exactly-once',
  config: Type.Object(
    {
      store: Type.String({ description: 'Name given to memorySinkStore().' }),
      changelog: Type.Boolean({
        default: false,
        description:
          'Take updating streams, keeping each record’s row kind in `written` (committed records have none).',
      }),
    },
    { additionalProperties: false },
  ),
  changelog: {
    consumes: (config) => (config.changelog ? CHANGELOG_MODES : ['append']),
    hint: 'set `changelog: true`',
  },
  create(config) {
    return new StoreSink(memorySinkStore(config.store), config.changelog);
  },
});

/** The testing plugin: register it next to the built-ins in engine tests. */
export const testing: Plugin = { name: 'testing', components: [memorySource, memorySink] };
