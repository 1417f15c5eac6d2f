/**
 * A Kafka worker: one member of a scaled-out pipeline (the Kafka Streams task model).
 *
 * A *task* is one partition number across the pipeline's Kafka source topics: a whole instance of
 * the pipeline's graph (a `Job` with `task`) that reads only that partition of each topic and
 * checkpoints to its own place in a shared, fenced checkpoint store. Workers — processes started
 * with the same pipeline and their own worker id — join the first source's consumer group,
 * subscribed to the first topic only, so that Kafka's assignment of that topic's partitions is
 * the assignment of tasks. On every new assignment the worker stops the tasks it lost (drain,
 * final checkpoint made durable, store released) and starts the tasks it gained; a gained task's
 * store waits until the previous owner released it (or its lease ran out, when that owner died),
 * then fences it with a new epoch and restores its newest checkpoint. So a partition's state and
 * offsets move with the partition, and a zombie cannot overwrite the new owner's checkpoints.
 *
 * A pipeline that regroups (a keyed step whose key its sources' `partitioned_by` is not part of)
 * runs each task as two parts, each a job with a checkpoint slot of its own: the source
 * partition's steps writing to the managed repartition topic, and partition n of that topic
 * read into the regrouping step and what follows (see `repartition-plan.ts`).
 *
 * Joining and rejoining the group are retried with capped, jittered backoff until the worker
 * stops (`worker-retry.ts`); a task that fails transiently is restarted from its last checkpoint
 * by the restart strategy while the other tasks run on (`runWithRestarts` of the core, one run
 * in `worker-task.ts`); a failure no retry or restart can cure fails the worker.
 */

import { Admin } from '@platformatic/kafka';
import {
  type CheckpointStore,
  type CheckpointStoreContext,
  defaultRestartStrategy,
  type Logger,
  type Plan,
  type Registry,
  RestartBackoff,
  type RestartStrategy,
  runWithRestarts,
  SluiceError,
  silentLogger,
  type TaskIdentity,
  toSluiceError,
} from '@sluice/core';
import { GroupConsumer } from './client.ts';
import {
  clientOptions,
  connectionSecrets,
  describeKafkaError,
  isPermanent,
  toSourceError,
} from './client-errors.ts';
import { repartitionParts } from './repartition-parts.ts';
import type { RepartitionSplit } from './repartition-plan.ts';
import { repartitionSink } from './repartition-sink.ts';
import { repartitionSource } from './repartition-source.ts';
import { ensureRepartitionTopic } from './repartition-topic.ts';
import type { KafkaSourceConfig } from './source-config.ts';
import { workerGroupPlan, workerInstanceId } from './worker-group.ts';
import { untilJoined } from './worker-retry.ts';
import { runTaskOnce, type TaskPart, type TaskRun } from './worker-task.ts';

/** What a task's checkpoint store is made from: the job's context, the task, and when to give up. */
export interface TaskStoreContext extends CheckpointStoreContext {
  /** The task, and which part of it (`TaskIdentity.part`): each part has a slot of its own. */
  task: TaskIdentity;
  /** Aborted when the task is revoked or the worker stops: a store waiting for its lease gives up. */
  signal: AbortSignal;
}

export interface KafkaWorkerOptions {
  registry: Registry;
  /** This worker's name in the group: stable across its restarts, different from every other worker's. */
  workerId: string;
  /** Makes the shared, fenced store of one task (e.g. `PostgresCheckpointStore`). */
  checkpointStore: (ctx: TaskStoreContext) => CheckpointStore;
  functions?: ReadonlyMap<string, unknown>;
  log?: Logger;
  /** Aborting it stops the worker gracefully: every task drains, checkpoints and releases its state. */
  signal?: AbortSignal;
  /** Passed to each task's job (`JobOptions.tickInterval`). */
  tickInterval?: number;
  /**
   * How a task that fails transiently is restarted from its last checkpoint while the other
   * tasks run on (default `defaultRestartStrategy`); a failure past it fails the worker.
   */
  restart?: RestartStrategy;
}

/** A worker id as Kafka accepts it inside a `group.instance.id`. */
const WORKER_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** A scaled-out pipeline's worker: group membership, and the tasks of the partitions it owns. */
export class KafkaWorker {
  readonly plan: Plan;
  readonly #options: KafkaWorkerOptions;
  readonly #log: Logger;
  readonly #client: GroupConsumer;
  /** The topic whose partitions are the tasks (the first source's first topic). */
  readonly #topic: string;
  readonly #topics: readonly string[];
  readonly #source: KafkaSourceConfig;
  /** Where the pipeline regroups through repartition topics, in order (empty: it does not). */
  readonly #splits: readonly RepartitionSplit[];
  /** What each task runs (set once the partition count is known). */
  #parts: TaskPart[];
  readonly #tasks = new Map<number, TaskRun>();
  readonly #stopped = new AbortController();
  #failure: SluiceError | undefined;
  #wake: (() => void) | undefined;
  #rejoin = false;

  private constructor(
    plan: Plan,
    options: KafkaWorkerOptions,
    client: GroupConsumer,
    topics: string[],
    source: KafkaSourceConfig,
    splits: readonly RepartitionSplit[],
  ) {
    this.plan = plan;
    this.#source = source;
    this.#splits = splits;
    this.#parts = [{ plan, part: undefined }];
    this.#options = options;
    this.#log = options.log ?? silentLogger;
    this.#client = client;
    this.#topics = topics;
    this.#topic = topics[0];
    client.onAssign((assigned) => this.#assign(assigned.filter((tp) => tp.topic === this.#topic)));
    client.onError((err) => this.#groupError(err));
    client.onFenced(() =>
      this.#fail(
        new SluiceError(
          'CONFIG_INVALID',
          `another worker joined with worker id '${options.workerId}' and the broker fenced this one; ` +
            'give each worker its own --worker-id',
        ),
      ),
    );
  }

  /**
   * Checks that the pipeline can be scaled out (every source is `kafka`, one consumer group, topics
   * with the same number of partitions) and prepares the group member. Throws CONFIG_INVALID.
   */
  static create(plan: Plan, options: KafkaWorkerOptions): KafkaWorker {
    if (!WORKER_ID.test(options.workerId)) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `worker id '${options.workerId}': letters, digits, '.', '_' and '-' only, at most 100`,
      );
    }
    const {
      plan: resolved,
      configs,
      topics,
      settings,
      sourceId,
      splits,
    } = workerGroupPlan(plan, options.registry);
    if (splits.length > 0 && options.registry.source(repartitionSource.type) === undefined) {
      options.registry.register({
        name: 'kafka-repartition',
        components: [repartitionSource, repartitionSink],
      });
    }
    const client = new GroupConsumer(clientOptions(configs[0], resolved.baseDir, sourceId), {
      groupId: settings.groupId,
      groupInstanceId: workerInstanceId(resolved.name, options.workerId),
      sessionTimeoutMs: settings.sessionTimeoutMs,
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      rebalanceTimeoutMs: Math.max(settings.sessionTimeoutMs, 30_000),
      readCommitted: settings.readCommitted,
      maxWaitMs: settings.maxWaitMs,
      maxBytes: settings.maxBytes,
      partitionMaxBytes: settings.partitionMaxBytes,
    });
    return new KafkaWorker(resolved, options, client, [...topics], configs[0], splits);
  }

  /** The partitions (tasks) this worker runs now, ascending. */
  tasks(): number[] {
    return [...this.#tasks.keys()].sort((a, b) => a - b);
  }

  /** Stops the worker gracefully; `run()` resolves once every task has released its state. */
  stop(): void {
    this.#stopped.abort();
    this.#wake?.();
  }

  /**
   * Joins the group and runs the assigned tasks until `stop()` (or the options' signal), then
   * leaves the group and stops every task gracefully. Rejects when a task fails (other than by
   * being fenced by a newer owner) or the group refuses the worker for good.
   */
  async run(): Promise<void> {
    const onAbort = () => this.stop();
    this.#options.signal?.addEventListener('abort', onAbort, { once: true });
    if (this.#options.signal?.aborted) this.stop();
    try {
      const joined = await this.#untilJoined('joining the group', async () => {
        await this.#checkTopics();
        await this.#client.join([this.#topic]);
      });
      if (joined) this.#log.info('worker joined', { worker: this.#options.workerId, topic: this.#topic });
      while (!this.#stopped.signal.aborted && !this.#failure) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, 500);
        });
        if (this.#rejoin && !this.#stopped.signal.aborted) {
          this.#rejoin = false;
          await this.#untilJoined('rejoining the group', async () => {
            if (!this.#client.active) await this.#client.join([this.#topic]);
          });
        }
      }
    } finally {
      this.#options.signal?.removeEventListener('abort', onAbort);
      // Leave first: the others are assigned the partitions at once and wait for each release.
      await this.#client
        .close()
        .catch((err: unknown) => this.#log.warn('worker: leaving the group failed', { error: String(err) }));
      for (const t of this.#tasks.values()) this.#stopTask(t);
      await Promise.all([...this.#tasks.values()].map((t) => t.done));
    }
    if (this.#failure) throw this.#failure;
  }

  /**
   * Runs `attempt` until it succeeds or the worker stops, waiting longer after each failure (see
   * `untilJoined`); a failure no retry can fix fails the worker. Resolves whether it succeeded.
   */
  async #untilJoined(what: string, attempt: () => Promise<void>): Promise<boolean> {
    try {
      return await untilJoined(attempt, {
        what,
        signal: this.#stopped.signal,
        log: this.#log,
        step: this.plan.sources[0].id,
        secrets: connectionSecrets(this.#source),
        fields: { worker: this.#options.workerId },
      });
    } catch (err) {
      this.#fail(toSluiceError(err));
      return false;
    }
  }

  /**
   * Checks the topics (they exist, with the same number of partitions) and prepares the
   * repartition topic of a regrouping pipeline. Throws CONFIG_INVALID when they do not fit.
   */
  async #checkTopics(): Promise<void> {
    const missing = await this.#client.missingTopics(this.#topics);
    if (missing.length > 0) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `topics ${missing.join(', ')} do not exist (the workers do not create the topics they read)`,
        { path: 'topics' },
      );
    }
    const counts = await this.#client.partitionCounts(this.#topics);
    const want = counts.get(this.#topic);
    const uneven = this.#topics.filter((t) => counts.get(t) !== want);
    if (uneven.length > 0) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `the topics of a scaled-out pipeline must have the same number of partitions (co-partitioned): ` +
          this.#topics.map((t) => `'${t}' has ${counts.get(t)}`).join(', '),
        { path: 'topics' },
      );
    }
    if (this.#splits.length > 0 && this.#parts.length === 1)
      await this.#prepareRepartition(this.#splits, want ?? 0);
  }

  /**
   * Creates the repartition topics when missing (with the source's partition count), and splits
   * the plan into the parts each task runs (one more than there are splits).
   */
  async #prepareRepartition(splits: readonly RepartitionSplit[], partitions: number): Promise<void> {
    const admin = new Admin({
      ...clientOptions(this.#source, this.plan.baseDir, this.plan.sources[0].id),
      autocreateTopics: false,
    });
    try {
      for (const split of splits) {
        for (const c of split.crossings) await ensureRepartitionTopic(admin, c.topic, partitions);
      }
    } finally {
      await admin.close().catch(() => {});
    }
    this.#parts = repartitionParts(this.plan, splits, { source: this.#source, partitions });
    for (const split of splits) {
      this.#log.info('worker: the pipeline regroups through a repartition topic', {
        step: split.step,
        topics: split.crossings.map((c) => c.topic),
        partitions,
        upstream: [...split.upstream.steps, ...split.upstream.sinks],
        downstream: [...split.downstream.steps, ...split.downstream.sinks],
      });
    }
  }

  /** A new assignment: stop the tasks lost, start the tasks gained. */
  #assign(assigned: readonly { partition: number }[]): void {
    if (this.#stopped.signal.aborted) return;
    const wanted = new Set(assigned.map((tp) => tp.partition));
    for (const t of this.#tasks.values()) if (!wanted.has(t.partition)) this.#stopTask(t);
    for (const p of wanted) {
      const current = this.#tasks.get(p);
      if (current && !current.stop.signal.aborted) continue;
      this.#startTask(p, current?.done);
    }
    this.#log.info('worker: tasks assigned', {
      worker: this.#options.workerId,
      tasks: [...wanted].sort((a, b) => a - b),
    });
  }

  #stopTask(t: TaskRun): void {
    if (t.stop.signal.aborted) return;
    t.stop.abort();
    for (const job of t.jobs) job.stop();
  }

  /**
   * Starts the task of `partition` once its previous run in this worker (`after`) has ended. A
   * transient failure restarts it from its last checkpoint as the restart strategy says, while
   * the worker's other tasks run on; a failure that may not be restarted fails the worker.
   */
  #startTask(partition: number, after: Promise<void> | undefined): void {
    const stop = new AbortController();
    const run: TaskRun = { partition, jobs: [], stop, done: Promise.resolve() };
    this.#tasks.set(partition, run);
    const log = this.#log;
    const fields = { worker: this.#options.workerId, task: partition };
    run.done = (async () => {
      await after;
      if (stop.signal.aborted) return;
      const strategy = this.#options.restart ?? defaultRestartStrategy;
      const backoff = new RestartBackoff(strategy);
      await runWithRestarts(
        () => runTaskOnce(run, this.#parts, this.#options, log, backoff.restarts),
        strategy,
        {
          signal: stop.signal,
          log,
          fields,
          backoff,
        },
      );
    })()
      .catch((err: unknown) => {
        const e = toSluiceError(err);
        // Revoked while waiting for the previous owner to release the task: nothing was started.
        if (stop.signal.aborted && run.jobs.length === 0) return;
        if (e.code === 'CHECKPOINT_LOCKED') {
          // Fenced: a newer owner has the task; its state is theirs now.
          log.warn('worker: task taken over by another worker', { task: partition, error: e.message });
          return;
        }
        log.error('worker: task failed', { ...fields, error: e.describe() });
        this.#fail(e);
      })
      .finally(() => {
        if (this.#tasks.get(partition) === run) this.#tasks.delete(partition);
      });
  }

  #groupError(err: Error): void {
    if (this.#stopped.signal.aborted) return;
    if (isPermanent(err)) {
      this.#fail(toSourceError(err, 'worker group', this.plan.sources[0].id, []));
      return;
    }
    this.#log.warn('worker: group membership lost; rejoining', {
      worker: this.#options.workerId,
      error: describeKafkaError(err, connectionSecrets(this.#source)),
    });
    this.#rejoin = true;
    this.#wake?.();
  }

  #fail(error: SluiceError): void {
    this.#failure ??= error;
    this.#wake?.();
  }
}
