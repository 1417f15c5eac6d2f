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
  inputName,
  joinInputs,
  joinKeyExpressions,
  type PartitionKey,
  type Plan,
  type PlanStep,
  partitionByExpressions,
  type Registry,
  SluiceError,
} from '@sluice/core';

/** One stream crossing a repartition topic: written upstream by its new key, read back downstream. */
export interface RepartitionCrossing {
  /** The stream that crosses: the (main or side) output the split step reads. */
  readonly input: string;
  /** What its records are regrouped by: the message key of the repartition topic. */
  readonly key: PartitionKey;
  /**
   * The managed topic: `<pipeline>-<step>-repartition`, and for each input of a join
   * `<pipeline>-<step>-<input>-repartition`.
   */
  readonly topic: string;
  /** The upstream part's sink writing the topic (`<step>_repartition`, `<step>_<input>_repartition`). */
  readonly writer: string;
  /**
   * The downstream part's source reading it back: `<step>_repartition`, and for a join the name
   * its expressions read that input by (`inputName`), so that its condition reads as before.
   */
  readonly reader: string;
  /**
   * The changelog the crossing stream is, when it updates (`retract`, `upsert`): each record
   * crosses with its row kind, and the reader gives them back. Absent: appends.
   */
  readonly changelog?: { readonly mode: 'upsert' | 'retract'; readonly key: readonly string[] };
}

/** How a plan splits around its repartition topics. */
export interface RepartitionSplit {
  /** The first step of the downstream part: the one that first groups by the new key. */
  readonly step: string;
  /** The streams that cross: the step's one input, or each input of a join (by its join key). */
  readonly crossings: readonly RepartitionCrossing[];
  /** Steps and sinks before the topic: they run on each task's source partition. */
  readonly upstream: { readonly steps: readonly string[]; readonly sinks: readonly string[] };
  /** Steps and sinks after the topic: they run on each task's partition of the topic. */
  readonly downstream: { readonly steps: readonly string[]; readonly sinks: readonly string[] };
}

/** Characters Kafka takes in a topic name; the others become `_`. */
const TOPIC_CHARS = /[^A-Za-z0-9._-]/g;

/**
 * The name of the repartition topic of step `step` of pipeline `pipeline` (of its input `input`,
 * for a join), as Kafka Streams names its internal topics (`<application.id>-<name>-repartition`):
 * stable across restarts, because the step id names its state. Throws CONFIG_INVALID beyond Kafka's 249 characters.
 */
export function repartitionTopic(pipeline: string, step: string, input?: string): string {
  const name = `${pipeline}-${step}${input === undefined ? '' : `-${input}`}-repartition`.replace(
    TOPIC_CHARS,
    '_',
  );
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

/** A stateful step whose groups span partitions, and the key(s) it groups by. */
interface Start {
  /** The step that first computes the key: the split goes before it. */
  readonly step: PlanStep;
  /** Its key (a join's: the left input's). */
  readonly key: PartitionKey;
  /** A join's key on each of its inputs, in order. */
  readonly sides?: readonly PartitionKey[];
}

/**
 * What a join's state pairs records by, on each input: the equalities of its `on` condition, each
 * side's expressions reading that side's record (`joinKeyExpressions`). Throws CONFIG_INVALID for
 * a step with several inputs that is not a join (nothing says how its state is keyed).
 */
function joinKeys(step: PlanStep): PartitionKey[] {
  const on = step.expressions?.on;
  if (step.type !== 'join' || on === undefined) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `step '${step.id}' (${step.type}) reads ${step.inputs.length} inputs, and how its state groups their records cannot be told; a scaled-out pipeline regroups a join by its condition, or a step of one input by its key`,
      { step: step.id },
    );
  }
  const { left, right } = joinKeyExpressions(on, joinInputs(step));
  if (left.length === 0) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `join '${step.id}' has no equality between its inputs in its condition, so its records cannot be regrouped by a key; a scaled-out join needs one (left.id = right.id)`,
      { step: step.id, path: 'on' },
    );
  }
  return [partitionByExpressions(left), partitionByExpressions(right)];
}

/** The streams that cross the topics before `start`: its input, or each input of a join by its join key. */
function crossingsOf(plan: Plan, start: Start): RepartitionCrossing[] {
  const { step, key, sides } = start;
  if (sides === undefined) {
    const id = `${step.id}_repartition`;
    return [
      { input: step.inputs[0], key, topic: repartitionTopic(plan.name, step.id), writer: id, reader: id },
    ];
  }
  return step.inputs.map((input, i) => {
    const name = inputName(input);
    return {
      input,
      key: sides[i],
      topic: repartitionTopic(plan.name, step.id, name),
      writer: `${step.id}_${name}_repartition`,
      reader: name,
    };
  });
}

/**
 * Whether every record of one group of `key` is in one partition when records are placed by
 * `by`: the source topics' fields when they are part of the key, or the key a repartition topic
 * placed them by.
 */
function covers(by: PartitionKey, key: PartitionKey): boolean {
  return by.kind === 'fields' ? withinPartition(key, by.fields) : sameKey(by, key);
}

/**
 * Splits a resolved plan (`resolvePlan`: configs, expressions and keys known) for topics
 * partitioned by `partitionedBy` into a chain of parts joined by repartition topics: empty when
 * every stateful step groups by a key of which those fields are part (each task's state is then
 * complete). The first split goes before the first stateful step keyed otherwise; the steps after
 * it are placed by its key, and a stateful step among them keyed otherwise again splits the chain
 * once more (a window per region, then a total per country: three parts). A join whose key (the
 * equalities of its condition) is not within the placement on both inputs splits at the join,
 * each input crossing a topic of its own by its side of the key. Throws CONFIG_INVALID for what
 * the repartition topics cannot do yet: a stateful step with one global group, a step of several
 * inputs other than a join, two branches that each regroup, or a step after a split that also
 * reads a stream before it. An updating stream crosses with its row kinds.
 */
export function planRepartition(
  plan: Plan,
  registry: Registry,
  partitionedBy: readonly string[],
): RepartitionSplit[] {
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const readers = new Map<string, string[]>();
  for (const s of plan.steps) {
    for (const ref of s.inputs) {
      const id = refIdOf(ref);
      readers.set(id, [...(readers.get(id) ?? []), s.id]);
    }
  }
  const partitioned = `partitioned_by ${listOf(partitionedBy)}`;
  const splits: RepartitionSplit[] = [];
  // What the records of the current part are placed by, and the steps it holds.
  let placed: readonly PartitionKey[] = [{ kind: 'fields', fields: partitionedBy }];
  let scope = new Set(plan.steps.map((s) => s.id));
  const sinkInput = new Map(plan.sinks.map((k) => [k.id, k.input]));
  for (;;) {
    const first = firstRegrouping(scope, placed);
    if (first === undefined) break;
    const { step, key } = first;
    if (key.kind !== 'fields' && key.kind !== 'expressions') {
      throw new SluiceError(
        'CONFIG_INVALID',
        `step '${step.id}' groups by ${describePartition(key)}, which a repartition topic cannot compute from the records; key it by fields or SQL expressions`,
        { step: step.id },
      );
    }
    // An updating stream crosses with its row kinds, and is read back as the same changelog.
    const crossings = crossingsOf(plan, first).map((c): RepartitionCrossing => {
      const mode = plan.modes?.[c.input];
      if (mode === undefined || mode === 'append') return c;
      return { ...c, changelog: { mode, key: plan.keys?.[c.input]?.unique?.[0] ?? [] } };
    });
    const downstream = descendants(step.id, readers);
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
    const side = (ref: string) => downstream.has(refIdOf(ref));
    // A join's inputs are read downstream by sources named as its condition reads them.
    const taken = new Set([...downstream, ...plan.sinks.filter((k) => side(k.input)).map((k) => k.id)]);
    const clash = first.sides === undefined ? undefined : crossings.find((c) => taken.has(c.reader));
    if (clash !== undefined) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `'${clash.reader}' names both an input of join '${step.id}' (as its condition reads it) and a step or sink after it; rename the step or sink`,
        { step: step.id },
      );
    }
    const after = {
      steps: plan.steps.filter((s) => downstream.has(s.id)).map((s) => s.id),
      sinks: plan.sinks.filter((k) => side(k.input)).map((k) => k.id),
    };
    // The part before: everything not after (the first split), or the previous split's part
    // less what follows this one.
    const prev = splits.at(-1);
    const upstream =
      prev === undefined
        ? {
            steps: plan.steps.filter((s) => !downstream.has(s.id)).map((s) => s.id),
            sinks: plan.sinks.filter((k) => !side(k.input)).map((k) => k.id),
          }
        : {
            steps: prev.downstream.steps.filter((id) => !downstream.has(id)),
            sinks: prev.downstream.sinks.filter((id) => !side(sinkInput.get(id) ?? '')),
          };
    if (prev !== undefined) splits[splits.length - 1] = { ...prev, downstream: upstream };
    splits.push({ step: step.id, crossings, upstream, downstream: after });
    scope = new Set([...downstream].filter((id) => id !== step.id));
    placed = first.sides ?? [key];
  }
  return splits;

  /**
   * The first stateful step of `scope` whose key `placed` does not cover (walked back over the
   * key_by and stateless steps that compute its key), or undefined when each is covered. Throws
   * CONFIG_INVALID for a step with one global group, and for two that each regroup on branches
   * of their own.
   */
  function firstRegrouping(scope: ReadonlySet<string>, placed: readonly PartitionKey[]): Start | undefined {
    const starts = new Map<string, Start>();
    const covered = (k: PartitionKey) => placed.some((p) => covers(p, k));
    for (const s of plan.steps) {
      if (!scope.has(s.id) || registry.step(s.type)?.state === undefined) continue;
      if (s.inputs.length > 1) {
        const sides = joinKeys(s);
        // Each side's records of one key are in one task already: the join needs nothing.
        if (sides.every(covered)) continue;
        starts.set(s.id, { step: s, key: sides[0], sides });
        continue;
      }
      const key = groupingOf(plan, s);
      if (key === undefined) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `step '${s.id}' (${s.type}) keeps one group for all records, but a scaled-out pipeline's tasks each read one partition (${partitioned}); give it a \`key\` (scaled-out steps are keyed)`,
          { step: s.id },
        );
      }
      if (covered(key)) continue;
      // Walk back over the steps that pass the key on unchanged (a key_by and the steps after it).
      let start = s;
      for (;;) {
        if (start.inputs.length !== 1) break;
        const prior = byId.get(refIdOf(start.inputs[0]));
        if (prior === undefined || !scope.has(prior.id)) break;
        if (!sameKey(plan.keys?.[prior.id]?.partition, key)) break;
        if (registry.step(prior.type)?.state !== undefined) break;
        start = prior;
      }
      starts.set(start.id, { step: start, key });
    }
    const ordered = [...starts.values()];
    // The first regroupings: those no other regrouping leads to (the later ones come in later parts).
    const firsts = ordered.filter(
      ({ step }) => !ordered.some((o) => o.step !== step && descendants(o.step.id, readers).has(step.id)),
    );
    if (firsts.length > 1) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `steps ${firsts.map((f) => `'${f.step.id}'`).join(' and ')} each regroup the stream (by ${firsts.map((f) => describePartition(f.key)).join(' and ')}) on branches of their own; a scaled-out pipeline regroups one stream at a time for now: regroup before the branches split`,
        { step: firsts[1].step.id },
      );
    }
    return firsts[0];
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
