/**
 * Where a scaled-out pipeline regroups: the planner's split of a plan at the first keyed stateful
 * step whose key differs from the source partitioning (see docs/ARCHITECTURE.md, Repartition
 * topics).
 *
 * A task of a scaled-out pipeline reads one partition of its source topics, so its keyed state is
 * right only for keys that live in one partition. The kafka source says what its topics are
 * partitioned by (`partitioned_by`: the record fields the producers' message key is made of);
 * a stateful step grouping by a key of which those fields are part finds all records of each of
 * its keys in one task. A step grouping by another key (a window per region over a topic keyed by
 * user) needs the records regrouped: the plan splits before the step that first computes that
 * key, the upstream part of each task writes the crossing stream to the managed topic
 * `<pipeline>-<step>-repartition` keyed by the new key, and the downstream part of task p reads
 * partition p of it.
 */

import {
  describePartition,
  formatName,
  type PartitionKey,
  type Plan,
  type PlanStep,
  partitionByExpressions,
  type Registry,
  SluiceError,
} from '@sluice/core';
import type { KafkaSourceConfig } from './source-config.ts';

/** How a plan splits around its repartition topic. */
export interface RepartitionSplit {
  /** The first step of the downstream part: the one that first groups by the new key. */
  readonly step: string;
  /** The stream that crosses the topic: the (main or side) output the step reads. */
  readonly input: string;
  /** What the crossing records are regrouped by: the message key of the repartition topic. */
  readonly key: PartitionKey;
  /** The managed topic: `<pipeline>-<step>-repartition`. */
  readonly topic: string;
  /** Steps and sinks before the topic: they run on each task's source partition. */
  readonly upstream: { readonly steps: readonly string[]; readonly sinks: readonly string[] };
  /** Steps and sinks after the topic: they run on each task's partition of the topic. */
  readonly downstream: { readonly steps: readonly string[]; readonly sinks: readonly string[] };
}

/** Characters Kafka takes in a topic name; the others become `_`. */
const TOPIC_CHARS = /[^A-Za-z0-9._-]/g;

/**
 * The name of the repartition topic of step `step` of pipeline `pipeline`, as Kafka Streams names
 * its internal topics (`<application.id>-<name>-repartition`): stable across restarts, because
 * the step id names its state. Throws CONFIG_INVALID beyond Kafka's 249 characters.
 */
export function repartitionTopic(pipeline: string, step: string): string {
  const name = `${pipeline}-${step}-repartition`.replace(TOPIC_CHARS, '_');
  if (name.length > 249) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `the repartition topic of step '${step}' would be named '${name.slice(0, 60)}…', longer than Kafka's 249 characters; shorten the pipeline name or the step id`,
      { step },
    );
  }
  return name;
}

/**
 * What a stateful step groups its input by: its own `key` option (`key: [region]`, parsed as
 * `key[i]`), else the key of its input (an upstream `key_by`); undefined when it names no key and
 * its input is not keyed (one global group).
 */
function groupingOf(plan: Plan, step: PlanStep): PartitionKey | undefined {
  const config = step.config as { key?: unknown };
  if (Array.isArray(config.key) && config.key.length > 0) {
    const trees = config.key.map((_, i) => step.expressions?.[`key[${i}]`]);
    if (trees.every((t) => t !== undefined)) return partitionByExpressions(trees);
  }
  const p = plan.keys?.[step.inputs[0]]?.partition;
  return p === undefined || p.kind === 'none' ? undefined : p;
}

/** Whether every record of one group of `key` is in one partition of a topic partitioned by `fields`. */
function withinPartition(key: PartitionKey, fields: readonly string[]): boolean {
  return key.kind === 'fields' && fields.every((f) => key.fields.includes(f));
}

function sameKey(a: PartitionKey | undefined, b: PartitionKey | undefined): boolean {
  return a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Splits a resolved plan (`resolvePlan`: configs, expressions and keys known) for a topic
 * partitioned by `partitionedBy`: undefined when every stateful step groups by a key of which
 * those fields are part (each task's state is then complete). Throws CONFIG_INVALID for what a
 * repartition topic cannot do yet: a stateful step with one global group, a join whose inputs
 * are not keyed alike, a regrouping step with several inputs, two regroupings, an updating stream
 * crossing the topic, or a step after the split that also reads a stream before it.
 */
export function planRepartition(
  plan: Plan,
  registry: Registry,
  partitionedBy: readonly string[],
): RepartitionSplit | undefined {
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const readers = new Map<string, string[]>();
  for (const s of plan.steps) {
    for (const ref of s.inputs) {
      const id = refIdOf(ref);
      readers.set(id, [...(readers.get(id) ?? []), s.id]);
    }
  }
  const partitioned = `partitioned_by ${listOf(partitionedBy)}`;
  // The stateful steps whose groups span partitions, each with the step that first computes its key.
  const starts = new Map<string, { step: PlanStep; key: PartitionKey }>();
  for (const s of plan.steps) {
    if (registry.step(s.type)?.state === undefined) continue;
    if (s.inputs.length > 1) {
      // A join's state is keyed by its condition, which says nothing of how its inputs are placed.
      const keys = s.inputs.map((ref) => plan.keys?.[ref]?.partition);
      const first = keys[0];
      if (first === undefined || first.kind === 'none' || !keys.every((k) => sameKey(k, first))) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `step '${s.id}' (${s.type}) reads ${s.inputs.length} inputs, and whether each task has all the records its state pairs cannot be told from partitioned_by ${listOf(partitionedBy)}; key every input with the same key_by (a repartition topic per input is not built yet), or drop partitioned_by if the topics are partitioned by the join key`,
          { step: s.id },
        );
      }
    }
    const key = groupingOf(plan, s);
    if (key === undefined) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `step '${s.id}' (${s.type}) keeps one group for all records, but a scaled-out pipeline's tasks each read one partition (${partitioned}); give it a \`key\` (scaled-out steps are keyed)`,
        { step: s.id },
      );
    }
    if (withinPartition(key, partitionedBy)) continue;
    // Walk back over the steps that pass the key on unchanged (a key_by and the steps after it).
    let start = s;
    for (;;) {
      if (start.inputs.length !== 1) break;
      const before = byId.get(refIdOf(start.inputs[0]));
      if (before === undefined || !sameKey(plan.keys?.[before.id]?.partition, key)) break;
      if (registry.step(before.type)?.state !== undefined) break;
      start = before;
    }
    starts.set(start.id, { step: start, key });
  }
  if (starts.size === 0) return undefined;
  const ordered = [...starts.values()];
  // The first regroupings: those no other regrouping leads to (the later ones are checked below).
  const firsts = ordered.filter(
    ({ step }) => !ordered.some((o) => o.step !== step && reaches(o.step.id, step.id)),
  );
  if (firsts.length > 1) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `steps ${firsts.map((f) => `'${f.step.id}'`).join(' and ')} each regroup the stream (by ${firsts.map((f) => describePartition(f.key)).join(' and ')}); a scaled-out pipeline has one repartition topic for now: regroup once`,
      { step: firsts[1].step.id },
    );
  }
  const { step, key } = firsts[0];
  if (key.kind !== 'fields' && key.kind !== 'expressions') {
    throw new SluiceError(
      'CONFIG_INVALID',
      `step '${step.id}' groups by ${describePartition(key)}, which a repartition topic cannot compute from the records; key it by fields or SQL expressions`,
      { step: step.id },
    );
  }
  if (step.inputs.length !== 1) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `step '${step.id}' (${step.type}) groups its ${step.inputs.length} inputs by ${describePartition(key)}, which is not how the topics are partitioned (${partitioned}); a regrouping step reads one input for now — regroup each input with a key_by of its own topic, or partition the topics by that key`,
      { step: step.id },
    );
  }
  const mode = plan.modes?.[step.inputs[0]];
  if (mode !== undefined && mode !== 'append') {
    throw new SluiceError(
      'CONFIG_INVALID',
      `step '${step.id}' regroups '${step.inputs[0]}', an updating stream (${mode}), but a repartition topic carries appends only for now: regroup before the step that makes the updates`,
      { step: step.id },
    );
  }
  const downstream = descendants(step.id, readers);
  for (const other of ordered) {
    if (other.step === step || !downstream.has(other.step.id)) continue;
    if (!sameKey(other.key, key)) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `step '${other.step.id}' regroups again (by ${describePartition(other.key)}) after the repartition before '${step.id}' (by ${describePartition(key)}); a scaled-out pipeline has one repartition topic for now`,
        { step: other.step.id },
      );
    }
  }
  for (const id of downstream) {
    const s = byId.get(id)!;
    const early = s.inputs.find((ref) => id !== step.id && !downstream.has(refIdOf(ref)));
    if (early !== undefined) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `step '${id}' reads '${early}', which runs before the repartition topic of '${step.id}', as well as records after it; only '${step.id}' may cross the topic`,
        { step: id },
      );
    }
  }
  const upstreamSteps = plan.steps.filter((s) => !downstream.has(s.id)).map((s) => s.id);
  const side = (ref: string) => downstream.has(refIdOf(ref));
  return {
    step: step.id,
    input: step.inputs[0],
    key,
    topic: repartitionTopic(plan.name, step.id),
    upstream: { steps: upstreamSteps, sinks: plan.sinks.filter((k) => !side(k.input)).map((k) => k.id) },
    downstream: {
      steps: plan.steps.filter((s) => downstream.has(s.id)).map((s) => s.id),
      sinks: plan.sinks.filter((k) => side(k.input)).map((k) => k.id),
    },
  };

  function reaches(from: string, to: string): boolean {
    return descendants(from, readers).has(to);
  }
}

/** `id` and every step that reads it, directly or not. */
function descendants(id: string, readers: ReadonlyMap<string, readonly string[]>): Set<string> {
  const out = new Set<string>([id]);
  const queue = [id];
  while (queue.length > 0) {
    for (const next of readers.get(queue.pop()!) ?? []) {
      if (out.has(next)) continue;
      out.add(next);
      queue.push(next);
    }
  }
  return out;
}

function refIdOf(ref: string): string {
  const dot = ref.indexOf('.');
  return dot < 0 ? ref : ref.slice(0, dot);
}

function listOf(fields: readonly string[]): string {
  return `[${fields.join(', ')}]`;
}

/** The two plans a task of a regrouping pipeline runs, and their checkpoint slots. */
export interface RepartitionParts {
  /** The source partition's part: its steps and sinks, then the repartition topic's writer. */
  readonly upstream: Plan;
  /** The topic partition's part: its reader, then the steps and sinks after the split. */
  readonly downstream: Plan;
}

/** What the plans of a split need of the source and the topic. */
export interface PartsOptions {
  /** The first kafka source's config: its connection is the topic's, its group the reader's. */
  readonly source: KafkaSourceConfig;
  /** Partitions of the source topics and of the repartition topic: one per task. */
  readonly partitions: number;
}

/**
 * Builds the two plans of `split` over `plan` (resolved): the upstream part writes the crossing
 * stream to the repartition topic (`kafka_repartition` sink, exactly once, keyed by the new key)
 * and the downstream part reads it (`kafka_repartition` source, `read_committed`) into the split
 * step. Each keeps the dead-letter and late outputs. The derived parts of the plan (schemas, keys,
 * modes) are left for the job's own resolution.
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
  const key =
    split.key.kind === 'fields'
      ? split.key.fields.map((f) => formatName(f))
      : split.key.kind === 'expressions'
        ? [...split.key.expressions]
        : [];
  const crossing = `${split.step}_repartition`;
  const { schemas: _s, keys: _k, modes: _m, ...base } = plan;
  const upstreamSteps = new Set(split.upstream.steps);
  const upstreamSinks = new Set(split.upstream.sinks);
  const downstreamSinks = new Set(split.downstream.sinks);
  const upstream: Plan = {
    ...base,
    steps: plan.steps.filter((s) => upstreamSteps.has(s.id)),
    sinks: [
      ...plan.sinks.filter((s) => upstreamSinks.has(s.id)),
      {
        id: crossing,
        type: 'kafka_repartition',
        input: split.input,
        config: {
          kafka: { ...connection, topic: split.topic, key: 'k', format: 'json', delivery: 'exactly_once' },
          key,
          partitions,
        },
      },
    ],
  };
  const idleTimeout = plan.sources[0]?.eventTime?.idleTimeout;
  const downstream: Plan = {
    ...base,
    sources: [
      {
        id: crossing,
        type: 'kafka_repartition',
        config: {
          kafka: {
            ...connection,
            topics: [split.topic],
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
      },
    ],
    steps: plan.steps
      .filter((s) => !upstreamSteps.has(s.id))
      .map((s) => (s.id === split.step ? { ...s, inputs: [crossing] } : s)),
    sinks: plan.sinks.filter((s) => downstreamSinks.has(s.id)),
  };
  return { upstream, downstream };
}
