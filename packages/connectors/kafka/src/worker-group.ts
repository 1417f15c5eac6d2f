/**
 * The consumer group of a scaled-out pipeline's workers: which pipelines can be scaled out (the
 * checks `KafkaWorker.create` makes), the `group.instance.id` a worker joins with, and what the
 * broker says of the group — its members with their worker ids and assigned partitions, and the
 * end offset of every partition the tasks read (`sluice status`).
 */

import { Admin } from '@platformatic/kafka';
import { type Plan, type Registry, resolvePlan, SluiceError } from '@sluice/core';
import { clientOptions, connectionSecrets, toSourceError } from './client-errors.ts';
import { isUnknownTopic } from './producer-topic.ts';
import { planRepartition, type RepartitionSplit } from './repartition-plan.ts';
import { type KafkaSourceConfig, type SourceSettings, sourceSettings } from './source-config.ts';

/** A pipeline that workers can share: its resolved plan, its kafka sources and their group. */
export interface WorkerGroupPlan {
  /** The plan with every component's config checked and defaulted. */
  readonly plan: Plan;
  /** The config of each kafka source, in plan order. */
  readonly configs: readonly KafkaSourceConfig[];
  /** Every topic the sources read (deduplicated); the first one's partitions are the tasks. */
  readonly topics: readonly string[];
  /** The first source's settings: its `groupId` is the workers' consumer group. */
  readonly settings: SourceSettings;
  /** The first source's id (named in errors). */
  readonly sourceId: string;
  /** Where the pipeline regroups through repartition topics, in order (empty: it does not). */
  readonly splits: readonly RepartitionSplit[];
}

/**
 * Checks that `plan` can be scaled out over workers: every source is `kafka` and they share one
 * group_id. Throws CONFIG_INVALID naming the source and field otherwise.
 */
export function workerGroupPlan(plan: Plan, registry: Registry): WorkerGroupPlan {
  const resolved = resolvePlan(plan, registry);
  if (resolved.sources.length === 0) {
    throw new SluiceError('CONFIG_INVALID', 'a worker needs a pipeline with kafka sources');
  }
  const configs: KafkaSourceConfig[] = [];
  for (const src of resolved.sources) {
    if (src.type !== 'kafka') {
      throw new SluiceError(
        'CONFIG_INVALID',
        `source '${src.id}' is of type '${src.type}': a pipeline scaled out over workers reads only kafka ` +
          'sources (every task would read the whole of any other source)',
        { step: src.id, path: 'type' },
      );
    }
    // Checked against the kafka source's schema (defaults applied) by resolvePlan.
    configs.push(src.config as KafkaSourceConfig);
  }
  const first = configs[0];
  const other = configs.find((c) => c.group_id !== first.group_id);
  if (other) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `the kafka sources of a scaled-out pipeline share one group_id (the workers' group); found '${first.group_id}' and '${other.group_id}'`,
    );
  }
  const firstSource = resolved.sources[0];
  const settings = sourceSettings(first, {
    id: firstSource.id,
    pipeline: resolved.name,
    baseDir: resolved.baseDir,
  });
  return {
    plan: resolved,
    configs,
    topics: [...new Set(configs.flatMap((c) => c.topics))],
    settings,
    sourceId: firstSource.id,
    splits: repartitionOf(resolved, configs, registry),
  };
}

/**
 * Where `plan` regroups, when its kafka sources say how their topics are partitioned
 * (`partitioned_by`, the same on every source). Throws CONFIG_INVALID for sources that disagree,
 * and what `planRepartition` refuses.
 */
function repartitionOf(
  plan: Plan,
  configs: readonly KafkaSourceConfig[],
  registry: Registry,
): RepartitionSplit[] {
  const declared = configs.map((c) => c.partitioned_by);
  const first = declared[0];
  if (declared.some((d) => JSON.stringify(d) !== JSON.stringify(first))) {
    throw new SluiceError(
      'CONFIG_INVALID',
      'the kafka sources of a scaled-out pipeline are co-partitioned: give them all the same `partitioned_by`',
      { path: 'partitioned_by' },
    );
  }
  return first === undefined ? [] : planRepartition(plan, registry, first);
}

/** The `group.instance.id` of worker `workerId` of `pipeline` (static membership). */
export function workerInstanceId(pipeline: string, workerId: string): string {
  return `sluice-${pipeline}-worker-${workerId}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The worker id inside a `group.instance.id` of `pipeline`'s workers; undefined for another member. */
export function workerIdOf(pipeline: string, instanceId: string | null): string | undefined {
  const prefix = workerInstanceId(pipeline, '');
  if (instanceId === null || !instanceId.startsWith(prefix) || instanceId.length === prefix.length) {
    return undefined;
  }
  return instanceId.slice(prefix.length);
}

/** One member of the workers' group as the broker describes it. */
export interface WorkerGroupMember {
  /** The worker id (`--worker-id`), or undefined for a member that is not a Sluice worker. */
  readonly workerId: string | undefined;
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** The partitions of the task topic the group assigned it, ascending: its tasks. */
  readonly partitions: readonly number[];
}

/** What the broker says of a scaled-out pipeline's group. */
export interface WorkerGroupDescription {
  readonly group: string;
  /**
   * The group's state as Kafka names it: `Stable`, `PreparingRebalance`, `CompletingRebalance`,
   * `Empty` (no member) or `Dead` (the group does not exist).
   */
  readonly state: string;
  /** The topic whose partitions are the tasks. */
  readonly taskTopic: string;
  readonly topics: readonly string[];
  /**
   * The managed repartition topics of a regrouping pipeline that exist (one, or one per input of
   * a join), whose partition n the downstream part of task n reads (their end offsets are in
   * `endOffsets`); empty when the pipeline does not regroup or no worker has started.
   */
  readonly repartitionTopics: readonly string[];
  /** How many partitions the task topic has: the tasks are 0 … partitions − 1. */
  readonly partitions: number;
  readonly members: readonly WorkerGroupMember[];
  /** The end offset of every partition of every topic (`topic/partition` → offset), read_committed when the sources are. */
  readonly endOffsets: ReadonlyMap<string, number>;
}

/**
 * Asks the brokers of `group`'s first source for the workers' group (DescribeGroups), the
 * partitions of its topics (Metadata) and their end offsets (ListOffsets). Throws CONFIG_INVALID
 * when a topic does not exist, and the kafka source's errors (SOURCE_UNAVAILABLE, …) when the
 * brokers cannot be reached.
 */
export async function describeWorkerGroup(group: WorkerGroupPlan): Promise<WorkerGroupDescription> {
  const { plan, configs, topics, settings, sourceId, splits } = group;
  const admin = new Admin({ ...clientOptions(configs[0], plan.baseDir, sourceId), autocreateTopics: false });
  try {
    const counts = new Map<string, number>();
    for (const topic of topics) {
      try {
        const md = await admin.metadata({ topics: [topic], autocreateTopics: false, forceUpdate: true });
        counts.set(topic, md.topics.get(topic)?.partitionsCount ?? 0);
      } catch (err) {
        if (!isUnknownTopic(err)) throw err;
        throw new SluiceError('CONFIG_INVALID', `topic '${topic}' does not exist`, {
          step: sourceId,
          path: 'topics',
          cause: err,
        });
      }
    }
    // The repartition topic exists once a worker has started; its end offsets give the lag of
    // the tasks' downstream parts.
    const listed = [...topics];
    const repartitionTopics: string[] = [];
    for (const { topic } of splits.flatMap((x) => x.crossings)) {
      try {
        const md = await admin.metadata({ topics: [topic], autocreateTopics: false, forceUpdate: true });
        counts.set(topic, md.topics.get(topic)?.partitionsCount ?? 0);
        listed.push(topic);
        repartitionTopics.push(topic);
      } catch (err) {
        if (!isUnknownTopic(err)) throw err;
      }
    }
    const described = (await admin.describeGroups({ groups: [settings.groupId] })).get(settings.groupId);
    const taskTopic = topics[0];
    const members: WorkerGroupMember[] = [];
    for (const m of described?.members.values() ?? []) {
      members.push({
        workerId: workerIdOf(plan.name, m.groupInstanceId ?? null),
        memberId: m.id,
        instanceId: m.groupInstanceId ?? null,
        clientId: m.clientId,
        clientHost: m.clientHost,
        partitions: [...(m.assignments?.get(taskTopic)?.partitions ?? [])].sort((a, b) => a - b),
      });
    }
    members.sort((a, b) => (a.workerId ?? a.memberId).localeCompare(b.workerId ?? b.memberId));
    const ends = await admin.listOffsets({
      topics: listed.map((name) => ({
        name,
        partitions: Array.from({ length: counts.get(name) ?? 0 }, (_, partitionIndex) => ({
          partitionIndex,
          timestamp: -1n,
        })),
      })),
      isolationLevel: settings.readCommitted ? 1 : 0,
    });
    const endOffsets = new Map<string, number>();
    for (const t of ends) {
      for (const p of t.partitions) endOffsets.set(`${t.name}/${p.partitionIndex}`, Number(p.offset));
    }
    return {
      group: settings.groupId,
      state: described?.state ?? 'Dead',
      taskTopic,
      topics,
      repartitionTopics,
      partitions: counts.get(taskTopic) ?? 0,
      members,
      endOffsets,
    };
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw toSourceError(
      err,
      `describing group '${settings.groupId}' failed`,
      sourceId,
      connectionSecrets(configs[0]),
    );
  } finally {
    await admin.close().catch(() => {});
  }
}
