/**
 * The reader of the `kafka` source: one group member multiplexing every partition Kafka assigns
 * it. A background loop fetches ahead (bounded) and decodes whole fetch responses; `read` hands
 * out the decoded records one partition at a time, so the runtime keeps a watermark per Kafka
 * partition.
 *
 * Offsets belong to Sluice's checkpoint: `position()` is the next offset of every assigned
 * partition after the records returned so far; `commit()` writes a durable checkpoint's offsets
 * to the group. Where a newly assigned partition starts: its offset in the restored checkpoint
 * (once, the first time it is assigned), else the greater of the group's committed offset and
 * the last durable checkpoint's offset this reader knows, else the `start` policy.
 */

import type { Logger, SourceBatch, SourceLag, SourceReader } from '@sluice/core';
import { backoffDelay, SluiceError } from '@sluice/core';
import type { FetchedPartition, FetchTarget, GroupConsumer, TopicPartition } from './client.ts';
import { isPermanent, toSourceError } from './client-errors.ts';
import { type DecodeOptions, decodeBatches } from './formats.ts';
import { RecordBatchError, type ScannedBatches, scanBatches } from './record-batches.ts';
import { schemaCompiler, type ValueDecoder } from './schema-decoders.ts';
import { SchemaResolver } from './schema-registry.ts';
import { FetchBuffer, type PartitionState, Signal } from './source-buffer.ts';
import type { SourceSettings } from './source-config.ts';
import { resolveStarts } from './source-starts.ts';

/** The id of the one reader of a `kafka` source; its position holds every partition's offset. */
export const READER_ID = 'consumer';

/** How long `read` waits for records before returning an empty batch. */
const IDLE_MS = 200;
/** Backoff of the fetch loop after a failure: first and greatest delay, ms. */
const BACKOFF_FIRST = 100;
const BACKOFF_MAX = 10_000;

/** A checkpointed position: the next offset to read, by `topic/partition`. */
export type KafkaPosition = { [topicPartition: string]: number };

export interface KafkaReaderOptions {
  readonly step: string;
  readonly settings: SourceSettings;
  readonly client: GroupConsumer;
  readonly log: Logger;
  readonly secrets: readonly string[];
  /** Offsets from the restored checkpoint, by `topic/partition`. */
  readonly restored: KafkaPosition;
  readonly now: () => number;
  /**
   * Task mode (a scaled-out worker's task, `SourceContext.task`): read partition `task` of every
   * topic, without joining the group and without committing to it (the offsets live in the task's
   * checkpoints; the group belongs to the workers). Undefined: a group member.
   */
  readonly task?: number;
  /** Tells the runtime of partitions assigned to this reader (`SourceContext.partitionsAssigned`). */
  readonly partitionsAssigned?: (partitions: readonly string[]) => void;
  /** Tells the runtime of partitions revoked from this reader (`SourceContext.partitionsRevoked`). */
  readonly partitionsRevoked?: (partitions: readonly string[]) => void;
}

export class KafkaReader implements SourceReader {
  readonly partition = READER_ID;
  readonly #o: KafkaReaderOptions;
  readonly #client: GroupConsumer;
  readonly #restored: Map<string, number>;
  /** Offsets of the last durable checkpoint (given to `commit`). */
  readonly #durable = new Map<string, number>();
  /** Offsets this reader committed to the group. */
  readonly #committed = new Map<string, number>();
  readonly #parts = new Map<string, PartitionState>();
  readonly #unresolved = new Set<PartitionState>();
  /** Partitions whose fetch offset fell out of the log (retention): they restart at the earliest. */
  readonly #outOfRange = new Set<PartitionState>();
  /** Registry schemas of the `avro` and `json_schema` formats. */
  readonly #schemas: SchemaResolver<ValueDecoder> | undefined;
  readonly #decodeOptions: DecodeOptions;
  /** Whether registry schemas are being fetched (decoding waits for them). */
  #fetchingSchemas = false;
  readonly #buffer = new FetchBuffer((st, fetched, first, last, from) => {
    if (this.#fetchingSchemas) return undefined;
    const chunk = decodeBatches(
      st.topic,
      st.partition,
      fetched,
      first,
      last,
      from,
      this.#decodeOptions,
      this.#o.now(),
    );
    if (chunk.missing === undefined) return chunk;
    this.#fetchSchemas(chunk.missing);
    return undefined;
  });
  #fatal: SluiceError | undefined;
  #started: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #rejoin = false;
  #closed = false;
  readonly #closing = new AbortController();
  readonly #dataReady = new Signal();
  readonly #fetchWanted = new Signal();

  constructor(options: KafkaReaderOptions) {
    this.#o = options;
    this.#client = options.client;
    this.#restored = new Map(Object.entries(options.restored));
    const { format, includeMetadata, schemaRegistry, limits } = options.settings;
    if (schemaRegistry && (format === 'avro' || format === 'json_schema')) {
      this.#schemas = new SchemaResolver(schemaRegistry, schemaCompiler(format), {
        log: options.log,
        step: options.step,
        secrets: options.secrets,
      });
    }
    this.#decodeOptions = { format, includeMetadata, schemas: this.#schemas, limits };
    this.#client.onAssign((assigned, generation) => this.#assign(assigned, generation));
    this.#client.onError((err) => this.#backgroundError(err));
    this.#client.onFenced(() => this.#fenced());
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    if (!this.#started) {
      this.#started = this.#start().catch((err: unknown) => {
        this.#started = undefined;
        throw toSourceError(
          err,
          `cannot start consuming (group '${this.#o.settings.groupId}')`,
          this.#o.step,
          this.#o.secrets,
        );
      });
    }
    await this.#started;
    let waited = false;
    for (;;) {
      if (this.#fatal) throw this.#fatal;
      const batch = this.#take(max);
      if (batch) return batch;
      if (waited || signal.aborted || this.#closed) return { records: [] };
      await this.#dataReady.wait(IDLE_MS, signal);
      waited = true;
    }
  }

  position(): KafkaPosition {
    const out: KafkaPosition = {};
    for (const st of this.#parts.values()) if (Number.isFinite(st.returned)) out[st.key] = st.returned;
    return out;
  }

  /**
   * Commits a durable checkpoint's offsets for the partitions this member still owns. A failed
   * commit is logged, not thrown: the checkpoint holds the offsets, the next one commits again.
   */
  async commit(position: unknown): Promise<void> {
    if (position === null || typeof position !== 'object') return;
    const offsets: (TopicPartition & { offset: number; leaderEpoch: number })[] = [];
    for (const [key, offset] of Object.entries(position as KafkaPosition)) {
      if (typeof offset !== 'number') continue;
      this.#durable.set(key, offset);
      const st = this.#parts.get(key);
      if (!st || this.#committed.get(key) === offset) continue;
      offsets.push({ topic: st.topic, partition: st.partition, offset, leaderEpoch: st.leaderEpoch });
    }
    if (offsets.length === 0 || this.#closed || !this.#started || this.#o.task !== undefined) return;
    try {
      await this.#client.commit(offsets);
      for (const o of offsets) this.#committed.set(`${o.topic}/${o.partition}`, o.offset);
    } catch (err) {
      const e = toSourceError(err, 'offset commit failed', this.#o.step, this.#o.secrets);
      this.#o.log.warn('kafka source: offset commit failed; the next checkpoint commits again', {
        source: this.#o.step,
        error: e.message,
      });
    }
  }

  /**
   * Consumer lag of every partition this member reads: the partition's end (its high watermark,
   * from a ListOffsets request) less the position after the records returned so far. Undefined
   * before the first partition's start is known.
   */
  async lag(): Promise<SourceLag | undefined> {
    if (this.#closed) return undefined;
    const parts = [...this.#parts.values()].filter((st) => Number.isFinite(st.returned));
    if (parts.length === 0) return undefined;
    const ends = await this.#client.offsetsAt(parts, 'latest');
    const partitions: { [topicPartition: string]: number } = {};
    for (const st of parts) {
      const end = ends.get(st.key);
      // Revoked while the request was out: no longer this member's.
      if (end === undefined || this.#parts.get(st.key) !== st) continue;
      partitions[st.key] = Math.max(0, end - st.returned);
    }
    return { unit: 'records', partitions };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    this.#dataReady.notify();
    this.#fetchWanted.notify();
    await this.#started?.catch(() => {});
    await this.#loop;
    try {
      await this.#client.close();
    } catch (err) {
      this.#o.log.debug('kafka source: close failed', {
        source: this.#o.step,
        error: toSourceError(err, 'close', this.#o.step, this.#o.secrets).message,
      });
    }
  }

  // Start, assignment, background errors

  async #start(): Promise<void> {
    const { settings, step } = this.#o;
    const missing = await this.#client.missingTopics(settings.topics);
    if (missing.length > 0) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `topic${missing.length > 1 ? 's' : ''} ${missing.map((t) => `'${t}'`).join(', ')} ` +
          `do${missing.length > 1 ? '' : 'es'} not exist; create ${missing.length > 1 ? 'them' : 'it'} ` +
          'or fix `topics` (the source never creates topics)',
        { step, path: 'topics' },
      );
    }
    const configured = new Set(settings.topics);
    for (const key of [...this.#restored.keys()]) {
      if (!configured.has(topicOf(key))) {
        this.#o.log.warn('kafka source: the checkpoint has an offset for a topic no longer read; dropped', {
          source: step,
          partition: key,
        });
        this.#restored.delete(key);
      }
    }
    if (this.#closed) return;
    const task = this.#o.task;
    if (task === undefined) {
      await this.#client.join(settings.topics);
    } else {
      await this.#assignTask(task);
    }
    this.#loop ??= this.#run();
  }

  /** Task mode: partition `task` of every topic, which every topic must have. */
  async #assignTask(task: number): Promise<void> {
    const { settings, step } = this.#o;
    const counts = await this.#client.partitionCounts(settings.topics);
    const short = settings.topics.filter((t) => (counts.get(t) ?? 0) <= task);
    if (short.length > 0) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `task ${task} reads partition ${task} of every topic, but ${short.map((t) => `'${t}' has ${counts.get(t) ?? 0}`).join(', ')} ` +
          'partitions; the topics of a scaled-out pipeline must have the same number of partitions',
        { step, path: 'topics' },
      );
    }
    this.#client.track(settings.topics);
    this.#assign(
      settings.topics.map((topic) => ({ topic, partition: task })),
      -1,
    );
  }

  /**
   * A new assignment (after every join): drop revoked partitions, queue new ones for a start, and
   * tell the runtime — revocations first — before any record of a new partition is fetched.
   */
  #assign(assigned: readonly TopicPartition[], generation: number): void {
    const keys = new Set<string>();
    const added: string[] = [];
    const revoked: string[] = [];
    for (const tp of assigned) {
      const key = `${tp.topic}/${tp.partition}`;
      keys.add(key);
      if (this.#parts.has(key)) continue;
      const st: PartitionState = {
        key,
        topic: tp.topic,
        partition: tp.partition,
        fetchAt: Number.NaN,
        returned: Number.NaN,
        leaderEpoch: -1,
      };
      this.#parts.set(key, st);
      this.#unresolved.add(st);
      added.push(key);
    }
    for (const [key, st] of this.#parts) {
      if (keys.has(key)) continue;
      this.#parts.delete(key);
      this.#unresolved.delete(st);
      // Another member may commit it now: our last commit says nothing about the group's offset.
      this.#committed.delete(key);
      revoked.push(key);
    }
    if (revoked.length > 0) {
      this.#buffer.drop(new Set(revoked));
      this.#o.partitionsRevoked?.(revoked);
    }
    if (added.length > 0) this.#o.partitionsAssigned?.(added);
    if (added.length > 0 || revoked.length > 0) {
      this.#o.log.info('kafka source: partitions assigned', {
        source: this.#o.step,
        added,
        revoked,
        assigned: [...this.#parts.keys()],
        generation,
        group_instance_id: this.#o.settings.groupInstanceId ?? null,
      });
    }
    this.#fetchWanted.notify();
    this.#dataReady.notify();
  }

  /**
   * Fetches the registry schemas a chunk needs, then wakes `read` to decode it again. A registry
   * that refuses for good (credentials, a wrong URL) fails the source.
   */
  #fetchSchemas(ids: Set<number>): void {
    const schemas = this.#schemas;
    if (!schemas || this.#closed) return;
    this.#fetchingSchemas = true;
    schemas.resolve(ids, this.#closing.signal).then(
      () => {
        this.#fetchingSchemas = false;
        this.#dataReady.notify();
      },
      (err: unknown) => {
        this.#fetchingSchemas = false;
        if (this.#closed) return;
        this.#fatal ??=
          err instanceof SluiceError
            ? err
            : new SluiceError('SOURCE_UNAVAILABLE', `schema registry: ${(err as Error).message}`, {
                step: this.#o.step,
                cause: err,
              });
        this.#dataReady.notify();
      },
    );
  }

  /** Another process joined with this member's `group_instance_id`: it has the partitions now. */
  #fenced(): void {
    if (this.#closed) return;
    const { groupId, groupInstanceId } = this.#o.settings;
    this.#fatal ??= new SluiceError(
      'CONFIG_INVALID',
      `another consumer joined group '${groupId}' with group_instance_id '${groupInstanceId}' and the ` +
        'broker fenced this one (FENCED_INSTANCE_ID); two running workers must not share an instance ' +
        'id: give each its own `group_instance_id`',
      { step: this.#o.step, path: 'group_instance_id' },
    );
    this.#dataReady.notify();
  }

  #backgroundError(err: Error): void {
    if (this.#closed) return;
    const e = toSourceError(err, 'consumer group', this.#o.step, this.#o.secrets);
    if (isPermanent(err)) {
      this.#fatal ??= e;
      this.#dataReady.notify();
      return;
    }
    this.#o.log.warn('kafka source: group membership lost; rejoining', {
      source: this.#o.step,
      error: e.message,
    });
    this.#rejoin = true;
    this.#fetchWanted.notify();
  }

  // The fetch loop

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed && !this.#fatal) {
      try {
        if (this.#rejoin) {
          this.#rejoin = false;
          // A join while still a member would make the whole group rebalance.
          if (!this.#client.active) await this.#client.join(this.#o.settings.topics);
        }
        if (this.#unresolved.size > 0) await this.#resolveStarts();
        if (this.#outOfRange.size > 0) await this.#resetOutOfRange();
        const targets: PartitionState[] = [];
        if (this.#roomToFetch()) {
          for (const st of this.#parts.values()) if (Number.isFinite(st.fetchAt)) targets.push(st);
        }
        if (targets.length === 0) {
          await this.#fetchWanted.wait(250, this.#closing.signal);
          continue;
        }
        await this.#fetchRound(targets);
        failures = 0;
      } catch (err) {
        if (this.#closed) break;
        const e = toSourceError(err, 'fetch failed', this.#o.step, this.#o.secrets);
        if (!e.retryable) {
          this.#fatal = e;
          this.#dataReady.notify();
          break;
        }
        failures++;
        const delay = backoffDelay(failures, BACKOFF_FIRST, BACKOFF_MAX);
        this.#o.log.warn('kafka source: broker unavailable; retrying', {
          source: this.#o.step,
          attempt: failures,
          delay,
          error: e.message,
        });
        this.#client.refreshMetadata();
        await this.#fetchWanted.wait(delay, this.#closing.signal);
      }
    }
  }

  /** Resolves where newly assigned partitions start (see `source-starts.ts`). */
  /** Moves partitions whose offset fell out of the log to the earliest offset still there. */
  async #resetOutOfRange(): Promise<void> {
    const asked = [...this.#outOfRange];
    const earliest = await this.#client.offsetsAt(asked, 'earliest');
    for (const st of asked) {
      this.#outOfRange.delete(st);
      const offset = earliest.get(st.key);
      if (offset === undefined || this.#parts.get(st.key) !== st) continue;
      const lost = st.returned;
      this.#o.log.warn('kafka source: offset out of range; continuing from the earliest offset', {
        source: this.#o.step,
        partition: st.key,
        offset: lost,
        earliest: offset,
        skipped: offset > lost ? offset - lost : 0,
      });
      st.fetchAt = offset;
      if (!this.#buffer.holds(st) && offset > st.returned) st.returned = offset;
    }
  }

  async #resolveStarts(): Promise<void> {
    const asked = [...this.#unresolved];
    const starts = await resolveStarts(asked, {
      restored: this.#restored,
      durable: this.#durable,
      client: this.#client,
      start: this.#o.settings.start,
    });
    const resolved: { [partition: string]: string } = {};
    for (const st of asked) {
      const start = starts.get(st.key);
      // Revoked meanwhile: a restored offset stays for when it comes back.
      if (!start || this.#parts.get(st.key) !== st) continue;
      if (start.restored) this.#restored.delete(st.key);
      st.fetchAt = start.offset;
      st.returned = start.offset;
      this.#unresolved.delete(st);
      resolved[st.key] = `${start.offset} (${start.from})`;
    }
    this.#o.log.info('kafka source: partitions start at', { source: this.#o.step, offsets: resolved });
  }

  /** One fetch from every leader holding a partition to read; decodes what comes back. */
  async #fetchRound(targets: readonly PartitionState[]): Promise<void> {
    const md = await this.#client.leaders();
    const byNode = new Map<number, PartitionState[]>();
    let unknownLeader = false;
    for (const st of targets) {
      const node = md.leader(st.topic, st.partition);
      if (node < 0) {
        unknownLeader = true;
        continue;
      }
      let list = byNode.get(node);
      if (!list) {
        list = [];
        byNode.set(node, list);
      }
      list.push(st);
    }
    const errors: string[] = [];
    await Promise.all(
      [...byNode].map(async ([node, states]) => {
        const requested = new Map<string, PartitionState>();
        const fetchTargets: FetchTarget[] = [];
        for (const st of states) {
          requested.set(st.key, st);
          fetchTargets.push({
            topic: st.topic,
            partition: st.partition,
            offset: st.fetchAt,
            leaderEpoch: -1,
          });
        }
        const parts = await this.#client.fetch(node, fetchTargets, md.topicId);
        for (const p of parts) {
          const err = this.#absorb(p, requested.get(`${p.topic}/${p.partition}`));
          if (err) errors.push(err);
        }
      }),
    );
    if (unknownLeader) errors.push('a partition has no leader');
    if (errors.length > 0) {
      throw new SluiceError('SOURCE_UNAVAILABLE', errors.join('; '), { step: this.#o.step });
    }
  }

  /** Decodes one partition of a fetch response into the queue; returns a transient error text. */
  #absorb(p: FetchedPartition, st: PartitionState | undefined): string | undefined {
    // Revoked, re-assigned or moved since the request: the response is stale.
    if (!st || this.#parts.get(st.key) !== st || st.fetchAt !== p.requested) return undefined;
    if (p.errorCode !== 0) {
      if (p.error === 'OFFSET_OUT_OF_RANGE') {
        // Retention or a deletion moved the log start past the position (the response carries no
        // usable offsets with the error): look the earliest offset up before fetching again.
        this.#outOfRange.add(st);
        st.fetchAt = Number.NaN;
        return undefined;
      }
      if (p.error === 'TOPIC_AUTHORIZATION_FAILED') {
        this.#fatal ??= new SluiceError(
          'CONFIG_INVALID',
          `not authorized to read topic '${st.topic}'; check the ACLs of the configured user`,
          { step: this.#o.step, path: 'topics' },
        );
        this.#dataReady.notify();
        return undefined;
      }
      this.#client.refreshMetadata();
      return `${st.key}: ${p.error ?? p.errorCode}`;
    }
    if (p.records === null) return undefined;
    let scanned: ScannedBatches;
    try {
      scanned = scanBatches(p.records, p.requested, p.aborted);
    } catch (err) {
      // An old message format or an unknown compression: no retry reads it.
      this.#fatal ??= new SluiceError(
        'SOURCE_UNAVAILABLE',
        `cannot read partition ${st.key} at offset ${p.requested}: ${(err as Error).message}`,
        { step: this.#o.step },
      );
      this.#dataReady.notify();
      return undefined;
    }
    if (scanned.next <= p.requested) return undefined;
    st.fetchAt = scanned.next;
    if (scanned.leaderEpoch >= 0) st.leaderEpoch = scanned.leaderEpoch;
    this.#buffer.push(st, scanned, p.requested);
    this.#dataReady.notify();
    return undefined;
  }

  /** The next batch from the buffer. */
  #take(max: number): SourceBatch | undefined {
    let batch: SourceBatch | undefined;
    try {
      batch = this.#buffer.take(max, (st) => this.#parts.get(st.key) === st);
    } catch (err) {
      // Bytes no reader can decode (a corrupt batch, an unknown compression): stop, not skip.
      if (!(err instanceof RecordBatchError)) throw err;
      throw new SluiceError('SOURCE_UNAVAILABLE', `cannot read a fetched record batch: ${err.message}`, {
        step: this.#o.step,
        cause: err,
      });
    }
    if (!batch) return undefined;
    if (this.#roomToFetch()) this.#fetchWanted.notify();
    return batch;
  }

  /** Whether the buffer is below both of its bounds, in records and in bytes. */
  #roomToFetch(): boolean {
    const { maxBuffered, maxBufferedBytes } = this.#o.settings;
    return this.#buffer.size < maxBuffered && this.#buffer.bytes < maxBufferedBytes;
  }
}

function topicOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/'));
}
