/**
 * Sluice's own small interface over the `@platformatic/kafka` consumer: group membership, raw
 * fetches, offset look-ups and commits. Nothing else in the source touches the client library
 * (`client-errors.ts` maps its options and errors), so it can be swapped behind these files.
 *
 * Offsets are JavaScript numbers here (exact up to 2^53, far beyond any real partition); the
 * library's bigints stay inside this file.
 */

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type BaseOptions,
  Consumer,
  type ConsumerOptions,
  type GroupAssignment,
  protocolErrorsCodesById,
} from '@platformatic/kafka';
import { kafkaErrorName } from './client-errors.ts';
import { FETCH_VERSIONS, type FetchConnection, fetchRaw } from './fetch-request.ts';
import { apiVersion, connectionTo } from './library-internals.ts';
import type { AbortedTransaction } from './record-batches.ts';

export {
  type ConnectionConfig,
  clientOptions,
  connectionSecrets,
  describeKafkaError,
  isPermanent,
  kafkaErrorName,
  scrub,
  toSourceError,
} from './client-errors.ts';

/** One assigned upstream partition. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A fetch request for one partition. */
export interface FetchTarget extends TopicPartition {
  offset: number;
  leaderEpoch: number;
}

/** What one partition's part of a fetch response holds. */
export interface FetchedPartition extends TopicPartition {
  /** The offset the fetch asked for. */
  requested: number;
  /** 0, or the Kafka error code of this partition. */
  errorCode: number;
  /** Name of the Kafka error (`OFFSET_OUT_OF_RANGE`, …) when `errorCode` is not 0. */
  error?: string;
  logStartOffset: number;
  highWatermark: number;
  /** The record batches as the broker sent them (read by record-batches.ts), or null. */
  records: Buffer | null;
  /** Transactions aborted within the returned range (read_committed), or null. */
  aborted: AbortedTransaction[] | null;
}

/** Options of a consumer that joins a group and never commits by itself. */
export interface GroupConsumerOptions {
  groupId: string;
  /** Static membership (KIP-345): the member's `group.instance.id`; undefined for a dynamic member. */
  groupInstanceId: string | undefined;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  readCommitted: boolean;
  maxWaitMs: number;
  maxBytes: number;
  partitionMaxBytes: number;
}

const toBig = (n: number) => BigInt(n);

/**
 * The `error` channel of the library's heartbeat tracing channel (`plt:kafka:consumer:heartbeat`,
 * see its docs/diagnostic.md; Node names a tracing channel's parts `tracing:<name>:<event>`): it
 * carries a failed heartbeat's client and error before the library acts on the error.
 */
const HEARTBEAT_FAILED = 'tracing:plt:kafka:consumer:heartbeat:error';

interface HeartbeatContext {
  client?: unknown;
  error?: unknown;
}

/**
 * A group member that fetches explicitly: it joins the group (the library heartbeats and
 * rejoins), reports assignments, and fetches, looks up and commits offsets only when asked.
 */
export class GroupConsumer {
  readonly #consumer: Consumer;
  readonly #options: GroupConsumerOptions;
  #topics: string[] = [];
  #onAssign: ((assigned: TopicPartition[], generation: number) => void) | undefined;
  #onError: ((err: Error) => void) | undefined;
  #onFenced: (() => void) | undefined;
  readonly #heartbeatFailed = (message: unknown) => {
    const context = message as HeartbeatContext;
    if (context.client === this.#consumer && kafkaErrorName(context.error) === 'FENCED_INSTANCE_ID') {
      this.#fenced();
    }
  };

  constructor(base: BaseOptions, options: GroupConsumerOptions) {
    this.#options = options;
    const consumerOptions: ConsumerOptions<Buffer, Buffer, Buffer, Buffer> = {
      ...base,
      groupId: options.groupId,
      autocommit: false,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      rebalanceTimeout: options.rebalanceTimeoutMs,
      isolationLevel: options.readCommitted ? 1 : 0,
      minBytes: 1,
      maxWaitTime: options.maxWaitMs,
      maxBytes: options.maxBytes,
      maxBytesPerPartition: options.partitionMaxBytes,
      autocreateTopics: false,
    };
    if (options.groupInstanceId !== undefined) {
      consumerOptions.groupInstanceId = options.groupInstanceId;
      subscribe(HEARTBEAT_FAILED, this.#heartbeatFailed);
    }
    this.#consumer = new Consumer(consumerOptions);
    // Unhandled 'error' events would crash the process; a failed background rejoin lands here.
    this.#consumer.on('error', (err: Error) => this.#onError?.(err));
    this.#consumer.on('consumer:group:join', (payload) =>
      this.#onAssign?.(flatten(payload.assignments), payload.generationId ?? -1),
    );
  }

  /** Called with the complete new assignment and the group generation after every (re)join. */
  onAssign(listener: (assigned: TopicPartition[], generation: number) => void): void {
    this.#onAssign = listener;
  }

  /**
   * Called when another process joined with this member's `group.instance.id` and the broker
   * fenced this one. The member has then stopped: the library would rejoin — fencing the other
   * process in turn, back and forth — so it is made to leave instead.
   */
  onFenced(listener: () => void): void {
    this.#onFenced = listener;
  }

  /**
   * A heartbeat was answered FENCED_INSTANCE_ID. Runs before the library handles the answer:
   * leaving the group here (synchronously, it marks the membership inactive) turns the rejoin the
   * library would start into a no-op. The LeaveGroup it sends names the fenced member id, which
   * the group no longer has, so the member that took the id over stays.
   */
  #fenced(): void {
    unsubscribe(HEARTBEAT_FAILED, this.#heartbeatFailed);
    this.#consumer.leaveGroup(true, () => {});
    this.#onFenced?.();
  }

  /** Called when the library fails in the background (e.g. a rejoin after a broker restart). */
  onError(listener: (err: Error) => void): void {
    this.#onError = listener;
  }

  /** The topics of `topics` that do not exist (without creating them). */
  async missingTopics(topics: readonly string[]): Promise<string[]> {
    const missing: string[] = [];
    for (const topic of topics) {
      try {
        await this.#consumer.metadata({ topics: [topic], autocreateTopics: false, forceUpdate: true });
      } catch (err) {
        if (err instanceof Error && /^Unknown topic /.test(err.message)) missing.push(topic);
        else throw err;
      }
    }
    return missing;
  }

  /** The number of partitions of each of `topics` (which must exist), by topic. */
  async partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    const md = await this.#consumer.metadata({
      topics: [...topics],
      autocreateTopics: false,
      forceUpdate: true,
    });
    const out = new Map<string, number>();
    for (const t of topics) out.set(t, md.topics.get(t)?.partitionsCount ?? 0);
    return out;
  }

  /**
   * Reads `topics` without joining the group (manual assignment): the partitions are the caller's,
   * and the group is only asked for committed offsets. Call before fetching.
   */
  track(topics: readonly string[]): void {
    this.#topics = [...topics];
    for (const t of topics) this.#consumer.topics.track(t);
  }

  /** Subscribes to `topics` and joins the group; resolves once this member has an assignment. */
  async join(topics: readonly string[]): Promise<void> {
    this.#topics = [...topics];
    for (const t of topics) this.#consumer.topics.track(t);
    await this.#consumer.joinGroup({
      sessionTimeout: this.#options.sessionTimeoutMs,
      heartbeatInterval: this.#options.heartbeatIntervalMs,
      rebalanceTimeout: this.#options.rebalanceTimeoutMs,
    });
  }

  /** Whether the member is in the group with a live heartbeat. */
  get active(): boolean {
    return this.#consumer.isActive();
  }

  /** The current assignment as the library knows it. */
  assignment(): TopicPartition[] {
    return flatten(this.#consumer.assignments ?? []);
  }

  /** Leader broker (node id, -1 when unknown) and topic id of the subscribed topics' partitions. */
  async leaders(): Promise<{
    leader(topic: string, partition: number): number;
    topicId(topic: string): string;
  }> {
    const md = await this.#consumer.metadata({ topics: this.#topics, autocreateTopics: false });
    return {
      leader(topic, partition) {
        return md.topics.get(topic)?.partitions[partition]?.leader ?? -1;
      },
      topicId(topic) {
        return md.topics.get(topic)?.id ?? '';
      },
    };
  }

  /** Forgets cached metadata (after leadership moved or a broker came back). */
  refreshMetadata(): void {
    this.#consumer.clearMetadata();
  }

  /**
   * Fetches from one broker. Per-partition Kafka errors come back in `errorCode` (the records
   * of the healthy partitions are kept); a failure of the whole request rejects.
   */
  async fetch(
    node: number,
    targets: readonly FetchTarget[],
    topicId: (t: string) => string,
  ): Promise<FetchedPartition[]> {
    const byTopic = new Map<
      string,
      {
        name: string;
        id: string;
        partitions: { partition: number; offset: number; leaderEpoch: number; maxBytes: number }[];
      }
    >();
    const requested = new Map<string, number>();
    for (const t of targets) {
      requested.set(`${t.topic}\0${t.partition}`, t.offset);
      let entry = byTopic.get(t.topic);
      if (!entry) {
        entry = { name: t.topic, id: topicId(t.topic), partitions: [] };
        byTopic.set(t.topic, entry);
      }
      entry.partitions.push({
        partition: t.partition,
        offset: t.offset,
        leaderEpoch: t.leaderEpoch,
        maxBytes: this.#options.partitionMaxBytes,
      });
    }
    let response: Awaited<ReturnType<typeof fetchRaw>>;
    try {
      const [connection, version] = await Promise.all([this.#connection(node), this.#fetchVersion()]);
      response = await fetchRaw(connection, version, {
        maxWaitMs: this.#options.maxWaitMs,
        maxBytes: this.#options.maxBytes,
        isolationLevel: this.#options.readCommitted ? 1 : 0,
        topics: [...byTopic.values()],
      });
    } catch (err) {
      // The broker may be gone or no longer lead: look again before the next attempt.
      this.#consumer.clearMetadata();
      throw err;
    }
    if (response.errorCode !== 0) {
      this.#consumer.clearMetadata();
      throw new Error(`fetch from broker ${node} failed: ${errorName(response.errorCode)}`);
    }
    const out: FetchedPartition[] = [];
    for (const p of response.partitions) {
      const offset = requested.get(`${p.topic}\0${p.partition}`);
      if (offset === undefined) continue;
      const fetched: FetchedPartition = {
        topic: p.topic,
        partition: p.partition,
        requested: offset,
        errorCode: p.errorCode,
        logStartOffset: p.logStartOffset,
        highWatermark: p.highWatermark,
        records: p.records,
        aborted: p.aborted,
      };
      if (p.errorCode !== 0) fetched.error = errorName(p.errorCode);
      out.push(fetched);
    }
    return out;
  }

  #version: number | undefined;

  /** The Fetch version to speak: the broker's highest that fetch-request.ts knows. */
  async #fetchVersion(): Promise<number> {
    this.#version ??= await apiVersion(this.#consumer, 'Fetch', FETCH_VERSIONS);
    if (this.#version === undefined)
      throw new Error('the broker is older than Kafka 2.8; the kafka source needs 2.8 or newer');
    return this.#version;
  }

  /** The library's connection to broker `node` (from the cached metadata). */
  async #connection(node: number): Promise<FetchConnection> {
    const md = await this.#consumer.metadata({ topics: this.#topics, autocreateTopics: false });
    return connectionTo<FetchConnection>(this.#consumer, md, node);
  }

  /** Offsets committed by the group, -1 where there is none. */
  async committed(partitions: readonly TopicPartition[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (partitions.length === 0) return out;
    const result = await this.#consumer.listCommittedOffsets({ topics: group(partitions) });
    for (const p of partitions) {
      const offsets = result.get(p.topic);
      const v = offsets?.[p.partition];
      out.set(`${p.topic}/${p.partition}`, v === undefined ? -1 : Number(v));
    }
    return out;
  }

  /**
   * For each partition: the earliest offset (`'earliest'`), the end (`'latest'`), or the first
   * offset whose timestamp is at or after `at` (epoch ms; the end when there is none).
   */
  async offsetsAt(
    partitions: readonly TopicPartition[],
    at: 'earliest' | 'latest' | number,
  ): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (partitions.length === 0) return out;
    const topics = [...new Set(partitions.map((p) => p.topic))];
    const parts: Record<string, number[]> = {};
    for (const p of partitions) {
      parts[p.topic] ??= [];
      parts[p.topic].push(p.partition);
    }
    const timestamp = at === 'earliest' ? -2n : at === 'latest' ? -1n : BigInt(at);
    const result = await this.#consumer.listOffsets({ topics, partitions: parts, timestamp });
    let ends: Map<string, bigint[]> | undefined;
    for (const p of partitions) {
      let v = result.get(p.topic)?.[p.partition];
      if (v === undefined || v < 0n) {
        ends ??= await this.#consumer.listOffsets({ topics, partitions: parts, timestamp: -1n });
        v = ends.get(p.topic)?.[p.partition] ?? 0n;
      }
      out.set(`${p.topic}/${p.partition}`, Number(v));
    }
    return out;
  }

  /** Commits offsets (the next offset to read) to the group. */
  async commit(
    offsets: readonly (TopicPartition & { offset: number; leaderEpoch: number })[],
  ): Promise<void> {
    if (offsets.length === 0) return;
    await this.#consumer.commit({
      offsets: offsets.map((o) => ({
        topic: o.topic,
        partition: o.partition,
        offset: toBig(o.offset),
        leaderEpoch: o.leaderEpoch,
      })),
    });
  }

  /**
   * Leaves the group and closes every connection. The LeaveGroup names the member id, which
   * Kafka accepts from a static member as from a dynamic one: the group rebalances at once and
   * the other members take this one's partitions.
   */
  async close(): Promise<void> {
    unsubscribe(HEARTBEAT_FAILED, this.#heartbeatFailed);
    await this.#consumer.close(true);
  }
}

function flatten(assignments: readonly GroupAssignment[] | undefined): TopicPartition[] {
  const out: TopicPartition[] = [];
  for (const a of assignments ?? [])
    for (const partition of a.partitions) out.push({ topic: a.topic, partition });
  return out;
}

function group(partitions: readonly TopicPartition[]): GroupAssignment[] {
  const byTopic = new Map<string, number[]>();
  for (const p of partitions) {
    let list = byTopic.get(p.topic);
    if (!list) {
      list = [];
      byTopic.set(p.topic, list);
    }
    list.push(p.partition);
  }
  return [...byTopic].map(([topic, parts]) => ({ topic, partitions: parts }));
}

function errorName(code: number): string {
  return protocolErrorsCodesById[code] ?? `KAFKA_ERROR_${code}`;
}
