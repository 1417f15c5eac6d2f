/**
 * The two plans a task of a regrouping pipeline runs (see docs/ARCHITECTURE.md, Repartition
 * topics): the upstream part over the task's source partition, ending in a writer of each
 * repartition topic, and the downstream part starting at a reader of partition n of each topic.
 */

import { formatName, type PartitionKey, type Plan, type PlanSink, type PlanSource } from '@sluice/core';
import type { RepartitionSplit } from './repartition-plan.ts';
import type { KafkaSourceConfig } from './source-config.ts';

/** The two plans a task of a regrouping pipeline runs, and their checkpoint slots. */
export interface RepartitionParts {
  /** The source partition's part: its steps and sinks, then the repartition topics' writers. */
  readonly upstream: Plan;
  /** The topic partition's part: its readers, then the steps and sinks after the split. */
  readonly downstream: Plan;
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
 * Builds the two plans of `split` over `plan` (resolved): the upstream part writes each crossing
 * stream to its repartition topic (`kafka_repartition` sink, exactly once, keyed by the new key)
 * and the downstream part reads each back (`kafka_repartition` source, `read_committed`) into the
 * split step — a join's inputs under the names its condition reads them by. Each part keeps the
 * dead-letter and late outputs. The derived parts of the plan (schemas, keys, modes) are left for
 * the job's own resolution.
 */
export function repartitionParts(
  plan: Plan,
  split: RepartitionSplit,
  options: PartsOptions,
): RepartitionParts {
  const { source, partitions } = options;
  const connection: { [k: string]: unknown } = { brokers: source.brokers, client_id: source.client_id };
  if (source.tls !== undefined) connection.tls = source.tls;
  if (source.sasl !== undefined) connection.sasl = source.sasl;
  const { schemas: _s, keys: _k, modes: _m, ...base } = plan;
  const upstreamSteps = new Set(split.upstream.steps);
  const upstreamSinks = new Set(split.upstream.sinks);
  const downstreamSinks = new Set(split.downstream.sinks);
  const writers: PlanSink[] = split.crossings.map((c) => ({
    id: c.writer,
    type: 'kafka_repartition',
    input: c.input,
    config: {
      kafka: { ...connection, topic: c.topic, key: 'k', format: 'json', delivery: 'exactly_once' },
      key: keyExpressions(c.key),
      partitions,
    },
  }));
  const upstream: Plan = {
    ...base,
    steps: plan.steps.filter((s) => upstreamSteps.has(s.id)),
    sinks: [...plan.sinks.filter((s) => upstreamSinks.has(s.id)), ...writers],
  };
  const idleTimeout = plan.sources[0]?.eventTime?.idleTimeout;
  const readers: PlanSource[] = split.crossings.map((c) => ({
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
    },
    // The reader gives the watermarks; the records keep the times they had upstream.
    eventTime: { maxOutOfOrderness: 0, ...(idleTimeout !== undefined ? { idleTimeout } : {}) },
  }));
  const inputs = split.crossings.map((c) => c.reader);
  const downstream: Plan = {
    ...base,
    sources: readers,
    steps: plan.steps
      .filter((s) => !upstreamSteps.has(s.id))
      .map((s) => (s.id === split.step ? { ...s, inputs } : s)),
    sinks: plan.sinks.filter((s) => downstreamSinks.has(s.id)),
  };
  return { upstream, downstream };
}
