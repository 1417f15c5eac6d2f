/**
 * `sluice status pipeline.yaml --checkpoint-store postgres://…`: the workers of a pipeline scaled
 * out over Kafka, their partitions, lag and state sizes — from the broker (the workers' consumer
 * group: members, assignment, end offsets) and from the shared checkpoint store (each task's
 * slot: owner, epoch, lease, newest checkpoint and its source offsets).
 *
 * The tasks commit no offsets to the group (their offsets live in their checkpoints), so a task's
 * lag is the end offset of each partition it reads less the offset in its newest checkpoint: what
 * its next owner would have to read again. It is as fresh as that checkpoint.
 *
 * `gatherStatus` reads, `renderStatus` draws the table; both pure of the process, for tests.
 */

import { type CheckpointSlot, type SlotCheckpoint, SluiceError } from '@sluice/core';
import type { describeWorkerGroup, WorkerGroupDescription, workerGroupPlan } from '@sluice/kafka';

import { explain } from './explain.ts';
import { loadWithPlugins } from './plugins.ts';
import { importPackage, storeKind } from './worker.ts';
import { renderStatus } from './workers-status-render.ts';

export { bytes, renderStatus } from './workers-status-render.ts';

/** Exit code of `sluice status` when some task has no live owner. */
export const NO_LIVE_OWNER_EXIT = 4;

/**
 * What a task is doing, as `sluice status` names it:
 * - `running`: its slot is held (lease live) by the worker Kafka assigned it to;
 * - `moving`: held by one worker while Kafka assigned it to another (or to nobody, mid-rebalance):
 *   the holder drains and releases it, then the next one takes it;
 * - `released`: let go by its last owner, not taken yet;
 * - `lease expired`: its owner stopped renewing the lease (killed or stuck) and did not release it;
 *   another worker takes it once Kafka assigns it elsewhere (after the group's session timeout);
 * - `not started`: no worker ever took it.
 * Only `running` and `moving` tasks have a live owner.
 */
export type TaskState = 'running' | 'moving' | 'released' | 'lease expired' | 'not started';

/** One checkpoint slot of a task (the task's, or one of its further parts') as the store has it. */
export interface SlotStatus {
  /** The slot's owner (the last worker that took it), or null when nobody ever did. */
  owner: string | null;
  state: TaskState;
  /** Whether a worker holds the slot now (not released, lease not run out). */
  live: boolean;
  epoch: number;
  released: boolean;
  /** When the owner's lease runs out (ISO 8601), or null when nobody ever took the slot. */
  leaseUntil: string | null;
  /** Milliseconds of lease left (negative: run out that long ago), or null. */
  leaseLeftMs: number | null;
  /** The newest checkpoint, or null when the slot has none. */
  checkpoint: { id: number; writtenAt: string; ageMs: number; unreadable?: string } | null;
  /** Bytes of the newest checkpoint as stored: the state (and offsets) that move with the task. */
  stateBytes: number;
  /** Records behind each partition's end at the newest checkpoint (`topic/partition` → records), or null. */
  lag: { [topicPartition: string]: number } | null;
  /** The sum of `lag`, or null. */
  lagTotal: number | null;
  /**
   * Times the slot's job was restarted from its last checkpoint after a transient failure (the
   * restart strategy, `--restart-attempts`), as of the newest checkpoint.
   */
  restarts: number;
}

/**
 * A further part of a task, with a slot of its own: the downstream part of a regrouping pipeline
 * (`after-<step>`), which reads partition `task` of the repartition topic.
 */
export interface PartStatus extends SlotStatus {
  part: string;
}

/** One task (partition number) of the pipeline: its first part's slot, and its further parts. */
export interface TaskStatus extends SlotStatus {
  task: number;
  /** The worker the group assigned the partition to (its member id when not a Sluice worker), or null. */
  assignedTo: string | null;
  /** Its further parts (empty unless the pipeline regroups through a repartition topic). */
  parts: PartStatus[];
}

/** One worker: a member of the group, or the owner of a slot it holds. */
export interface WorkerStatus {
  worker: string;
  /** Whether it is a member of the group now. */
  inGroup: boolean;
  /** The host the broker sees it connect from, or null when it is not a member. */
  host: string | null;
  /** The partitions (tasks) the group assigned it. */
  partitions: number[];
  /** The tasks whose slot it holds now. */
  tasks: number[];
  /** Sum of the lag of the tasks it holds (null when none has a checkpoint). */
  lag: number | null;
  /** Sum of the state bytes of the tasks it holds. */
  stateBytes: number;
}

/** What `sluice status --format json` prints. */
export interface WorkersStatus {
  pipeline: string;
  group: string;
  /** The group's state as Kafka names it (`Stable`, `PreparingRebalance`, `Empty`, `Dead`, …). */
  groupState: string;
  /** The topic whose partitions are the tasks, and every topic the tasks read. */
  taskTopic: string;
  topics: string[];
  /** Time of the store's clock the leases were compared with (ISO 8601). */
  checkedAt: string;
  workers: WorkerStatus[];
  tasks: TaskStatus[];
  /** The tasks without a live owner. */
  unowned: number[];
}

/** Builds the status from what the broker and the store said. */
export function buildStatus(
  pipeline: string,
  group: WorkerGroupDescription,
  slots: readonly CheckpointSlot[],
  now: number,
): WorkersStatus {
  const assigned = new Map<number, string>();
  for (const m of group.members) for (const p of m.partitions) assigned.set(p, m.workerId ?? m.memberId);
  const bySlot = new Map(slots.map((s) => [s.slot, s]));
  const count = Math.max(
    group.partitions,
    ...slots.map((s) => Number(/^tasks\/(\d+)(\/|$)/.exec(s.slot)?.[1] ?? -1) + 1),
  );
  const partNames = [...new Set(slots.flatMap((s) => /^tasks\/\d+\/(.+)$/.exec(s.slot)?.[1] ?? []))].sort();
  const tasks: TaskStatus[] = [];
  for (let task = 0; task < count; task++) {
    const assignedTo = assigned.get(task) ?? null;
    const parts = partNames.map((part) => ({
      part,
      ...slotStatus(bySlot.get(`tasks/${task}/${part}`), assignedTo, now, (cp) =>
        cp && group.repartitionTopics.length > 0
          ? partitionLag(group, group.repartitionTopics, task, cp.sources)
          : null,
      ),
    }));
    tasks.push({
      task,
      assignedTo,
      ...slotStatus(bySlot.get(`tasks/${task}`), assignedTo, now, (cp) =>
        cp ? partitionLag(group, group.topics, task, cp.sources) : null,
      ),
      parts,
    });
  }
  const workers = new Map<string, WorkerStatus>();
  const worker = (id: string) => {
    let w = workers.get(id);
    if (!w) {
      w = { worker: id, inGroup: false, host: null, partitions: [], tasks: [], lag: null, stateBytes: 0 };
      workers.set(id, w);
    }
    return w;
  };
  for (const m of group.members) {
    const w = worker(m.workerId ?? m.memberId);
    w.inGroup = true;
    w.host = m.clientHost;
    w.partitions = [...m.partitions];
  }
  for (const t of tasks) {
    for (const slot of [t, ...t.parts]) {
      if (!slot.live || slot.owner === null) continue;
      const w = worker(slot.owner);
      if (!w.tasks.includes(t.task)) w.tasks.push(t.task);
      w.stateBytes += slot.stateBytes;
      if (slot.lagTotal !== null) w.lag = (w.lag ?? 0) + slot.lagTotal;
    }
  }
  return {
    pipeline,
    group: group.group,
    groupState: group.state,
    taskTopic: group.taskTopic,
    topics: [...group.topics],
    checkedAt: new Date(now).toISOString(),
    workers: [...workers.values()].sort((a, b) => a.worker.localeCompare(b.worker)),
    tasks,
    // A task runs only when every part of it has a live owner.
    unowned: tasks.filter((t) => !t.live || t.parts.some((p) => !p.live)).map((t) => t.task),
  };
}

/** What `slot` (undefined: nobody ever took it) says, for a task the group assigned to `assignedTo`. */
function slotStatus(
  slot: CheckpointSlot | undefined,
  assignedTo: string | null,
  now: number,
  lagOf: (cp: SlotCheckpoint | undefined) => { [topicPartition: string]: number } | null,
): SlotStatus {
  const owner = slot && slot.owner !== '' ? slot.owner : null;
  const live = slot?.held === true;
  const state: TaskState =
    owner === null
      ? 'not started'
      : live
        ? assignedTo === owner
          ? 'running'
          : 'moving'
        : slot?.released
          ? 'released'
          : 'lease expired';
  const cp = slot?.checkpoint;
  const lag = lagOf(cp);
  return {
    owner,
    state,
    live,
    epoch: slot?.epoch ?? 0,
    released: slot?.released ?? false,
    leaseUntil: owner === null || !slot ? null : new Date(slot.leaseUntil).toISOString(),
    leaseLeftMs: owner === null || !slot ? null : slot.leaseUntil - now,
    checkpoint: cp
      ? {
          id: cp.id,
          writtenAt: new Date(cp.writtenAt).toISOString(),
          ageMs: now - cp.writtenAt,
          ...(cp.unreadable ? { unreadable: cp.unreadable } : {}),
        }
      : null,
    stateBytes: cp?.bytes ?? 0,
    lag,
    lagTotal: lag === null ? null : Object.values(lag).reduce((a, b) => a + b, 0),
    restarts: cp?.restarts ?? 0,
  };
}

/**
 * A slot's lag at its newest checkpoint: for partition `task` of every topic of `topics`, the end
 * offset less the offset the checkpoint resumes at (`topic/partition` keys, as the kafka reader's
 * position writes them; the repartition topic's reader keeps them under `offsets`). A topic the
 * checkpoint has no offset for is left out; null when none has one.
 */
function partitionLag(
  group: WorkerGroupDescription,
  topics: readonly string[],
  task: number,
  sources: { readonly [sourceId: string]: { readonly [partition: string]: unknown } } | undefined,
): { [topicPartition: string]: number } | null {
  if (sources === undefined) return null;
  const offsets = new Map<string, number>();
  for (const readers of Object.values(sources)) {
    for (const position of Object.values(readers)) {
      if (position === null || typeof position !== 'object') continue;
      const inner = (position as { offsets?: unknown }).offsets;
      const entries = inner !== null && typeof inner === 'object' ? inner : position;
      for (const [key, offset] of Object.entries(entries)) {
        if (typeof offset !== 'number') continue;
        // Two sources on one topic: the one further behind.
        offsets.set(key, Math.min(offset, offsets.get(key) ?? offset));
      }
    }
  }
  const lag: { [topicPartition: string]: number } = {};
  let any = false;
  for (const topic of topics) {
    const key = `${topic}/${task}`;
    const offset = offsets.get(key);
    const end = group.endOffsets.get(key);
    if (offset === undefined || end === undefined) continue;
    lag[key] = Math.max(0, end - offset);
    any = true;
  }
  return any ? lag : null;
}

/** The slots of `pipeline` in the shared store at `url` (PostgreSQL or S3). */
async function readSlots(url: string, pipeline: string): Promise<{ slots: CheckpointSlot[]; now: number }> {
  if (storeKind(url) === 's3') {
    const s3 = await importPackage<typeof import('@sluice/s3')>('@sluice/s3', 'sluice status');
    return s3.readS3CheckpointSlots(s3.s3StoreLocation(url), pipeline);
  }
  const postgres = await importPackage<typeof import('@sluice/postgres')>(
    '@sluice/postgres',
    'sluice status',
  );
  return postgres.readCheckpointSlots({ url, pipeline });
}

/**
 * Reads the status of the pipeline in `file` from its brokers and the store at `url`. Throws a
 * SluiceError when the pipeline cannot be scaled out, a topic or the store's tables do not exist,
 * a system cannot be reached, or neither the group nor the store knows the pipeline.
 */
export async function gatherStatus(file: string, url: string): Promise<WorkersStatus> {
  const { plan, registry } = await loadWithPlugins(file);
  const kafka = await importPackage<{
    describeWorkerGroup: typeof describeWorkerGroup;
    workerGroupPlan: typeof workerGroupPlan;
  }>('@sluice/kafka', 'sluice status');
  const groupPlan = kafka.workerGroupPlan(plan, registry);
  const name = groupPlan.plan.name;
  const [group, store] = await Promise.all([kafka.describeWorkerGroup(groupPlan), readSlots(url, name)]);
  const slots = store.slots.filter((s) => s.slot.startsWith('tasks/'));
  if (slots.length === 0 && group.members.length === 0) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `no worker of pipeline '${name}' is known: the consumer group '${group.group}' ` +
        `${group.state === 'Dead' ? 'does not exist' : `has no member (${group.state})`} and the checkpoint store has no task of the pipeline. ` +
        'Start workers with `sluice run <pipeline> --worker-id ID --checkpoint-store <url>`, or check the pipeline file and --checkpoint-store',
      { path: 'sources' },
    );
  }
  return buildStatus(name, group, slots, store.now);
}

export interface StatusOptionsRaw {
  checkpointStore?: string;
  format: string;
}

/** `sluice status`: prints the status; returns 0, NO_LIVE_OWNER_EXIT, 1 (error) or 2 (usage). */
export async function statusCommand(file: string, opts: StatusOptionsRaw): Promise<number> {
  if (opts.format !== 'table' && opts.format !== 'json') {
    process.stderr.write(`sluice status: --format must be table or json, got '${opts.format}'\n`);
    return 2;
  }
  const url = opts.checkpointStore ?? process.env.SLUICE_CHECKPOINT_STORE;
  if (url === undefined || storeKind(url) === undefined) {
    process.stderr.write(
      'sluice status: needs the shared checkpoint store the workers use: --checkpoint-store postgres://user@host:5432/db or s3://bucket/prefix/ (or SLUICE_CHECKPOINT_STORE)\n',
    );
    return 2;
  }
  let status: WorkersStatus;
  try {
    status = await gatherStatus(file, url);
  } catch (err) {
    process.stderr.write(explain(err, file));
    return 1;
  }
  process.stdout.write(
    opts.format === 'json' ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status),
  );
  return status.unowned.length === 0 ? 0 : NO_LIVE_OWNER_EXIT;
}
