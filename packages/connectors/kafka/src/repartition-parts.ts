/**
 * The two plans a task of a regrouping pipeline runs (see docs/ARCHITECTURE.md, Repartition
 * topics): the upstream part over the task's source partition, ending in a writer of each
 * repartition topic, and the downstream part starting at a reader of partition n of each topic.
 */

import { formatName, type PartitionKey, type Plan, type PlanSink, type PlanSource } from '@sluice/core';
import type { RepartitionSplit } from './repartition-plan.ts';
import type { KafkaSourceConfig } from './source-config.ts';

/** One of the plans a task of a regrouping pipeline runs, with the name of its checkpoint slot. */
export interface RepartitionPart {
  readonly plan: Plan;
  /**
   * `TaskIdentity.part`: undefined for the first (over the source partition, slot `tasks/<n>`),
   * `after-<step>` for the one after the split before `step` (slot `tasks/<n>/after-<step>`).
   */
  readonly part: string | undefined;
}

/** What the plans of a split need of the source and the topic. */
export interface PartsOptions {
  /** The first kafka source's config: its connection is the topics', its group the readers'. */
  readonly source: KafkaSourceConfig;
  /** Partitions of the source topics and of the repartition topics: one per task. */
  readonly partitions: number;
}

/** A key as the `kafka_repartition` sink computes it: SQL expressions. */
function keyExpressions(key: PartitionKey): string[] {
  if (key.kind === 'fields') return key.fields.map((f) => formatName(f));
  if (key.kind === 'expressions') return [...key.expressions];
  return [];
}

/**
 * Builds the plans of the chain `splits` over `plan` (resolved), one more than there are splits:
 * the first over the source partition, each further one over partition n of the topics of one
 * split. A part ends in a writer of each topic of the split after it (`kafka_repartition` sink,
 * exactly once, keyed by the new key) and, after the first, starts at a reader of each topic of
 * the split before it (`kafka_repartition` source, `read_committed`) into the split step — a
 * join's inputs under the names its condition reads them by. Each part keeps the dead-letter and
 * late outputs. The derived parts of the plan (schemas, keys, modes) are left for the job's own
 * resolution.
 */
export function repartitionParts(
  plan: Plan,
  splits: readonly RepartitionSplit[],
  options: PartsOptions,
): RepartitionPart[] {
  const { source, partitions } = options;
  const connection: { [k: string]: unknown } = { brokers: source.brokers, client_id: source.client_id };
  if (source.tls !== undefined) connection.tls = source.tls;
  if (source.sasl !== undefined) connection.sasl = source.sasl;
  const { schemas: _s, keys: _k, modes: _m, ...base } = plan;
  const idleTimeout = plan.sources[0]?.eventTime?.idleTimeout;
  const writers = (split: RepartitionSplit | undefined): PlanSink[] =>
    (split?.crossings ?? []).map((c) => ({
      id: c.writer,
      type: 'kafka_repartition',
      input: c.input,
      config: {
        kafka: { ...connection, topic: c.topic, key: 'k', format: 'json', delivery: 'exactly_once' },
        key: keyExpressions(c.key),
        partitions,
      },
    }));
  const readers = (split: RepartitionSplit): PlanSource[] =>
    split.crossings.map((c) => ({
      id: c.reader,
      type: 'kafka_repartition',
      config: {
        kafka: {
          ...connection,
          topics: [c.topic],
          group_id: source.group_id,
          static_membership: false,
          start: 'earliest',
          format: 'json',
          include_metadata: false,
          isolation_level: 'read_committed',
        },
        producers: partitions,
        ...(c.changelog !== undefined
          ? { changelog: { mode: c.changelog.mode, key: [...c.changelog.key] } }
          : {}),
      },
      // The reader gives the watermarks; the records keep the times they had upstream.
      eventTime: { maxOutOfOrderness: 0, ...(idleTimeout !== undefined ? { idleTimeout } : {}) },
    }));
  const members = (m: { readonly steps: readonly string[]; readonly sinks: readonly string[] }) => ({
    steps: new Set(m.steps),
    sinks: new Set(m.sinks),
  });
  const parts: RepartitionPart[] = [];
  if (splits.length === 0) return [{ plan, part: undefined }];
  const head = members(splits[0].upstream);
  parts.push({
    plan: {
      ...base,
      steps: plan.steps.filter((s) => head.steps.has(s.id)),
      sinks: [...plan.sinks.filter((s) => head.sinks.has(s.id)), ...writers(splits[0])],
    },
    part: undefined,
  });
  splits.forEach((split, i) => {
    const own = members(split.downstream);
    const inputs = split.crossings.map((c) => c.reader);
    parts.push({
      plan: {
        ...base,
        sources: readers(split),
        steps: plan.steps
          .filter((s) => own.steps.has(s.id))
          .map((s) => (s.id === split.step ? { ...s, inputs } : s)),
        sinks: [...plan.sinks.filter((s) => own.sinks.has(s.id)), ...writers(splits[i + 1])],
      },
      part: `after-${split.step}`,
    });
  });
  return parts;
}
