/**
 * The `hdfs` sink: records as JSON lines or Parquet files under a folder of HDFS, reached over
 * WebHDFS, in Hive-style partition folders; each file is written under an in-progress name and
 * renamed into place only once the checkpoint covering it is durable.
 */

import {
  defineSink,
  type Logger,
  parseDuration,
  type RetryPolicy,
  retry,
  retryPolicy,
  type Sink,
  type SinkBatch,
  type SinkContext,
  type SinkRejection,
  SluiceError,
} from '@sluice/core';
import { compileLayout, type Layout, PartitionedFiles, runName, sinkMark } from '@sluice/files';
import { type HdfsSinkConfig, type HdfsSinkState, hdfsSinkConfig, type PendingFile } from './sink-config.ts';
import { appendAttempt, isTransient, WebHdfs, WebHdfsError } from './webhdfs.ts';

/** The folder under `path` that holds in-progress files, one subfolder per sink mark. */
export const IN_PROGRESS_FOLDER = '.sluice-inprogress';

/** A file being written: where it goes, and the bytes HDFS holds of it. */
interface OpenFile extends PendingFile {
  /** Bytes of the in-progress file on HDFS; undefined before it is created. */
  length: number | undefined;
}

/** A one-line description of a failure, without request details (URLs carry the token). */
function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The parent folder of an absolute path. */
function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

class HdfsSink implements Sink {
  readonly #config: HdfsSinkConfig;
  readonly #step: string;
  readonly #layout: Layout;
  readonly #policy: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #root: string;
  #client: WebHdfs | undefined;
  #ctx: SinkContext | undefined;
  #log: Logger | undefined;
  #mark = '';
  /** This sink's in-progress folder: `<path>/.sluice-inprogress/<mark>`. */
  #staging = '';
  /** The files of this run, from `open` on. */
  #files: PartitionedFiles<OpenFile, PendingFile> | undefined;

  constructor(config: HdfsSinkConfig, step: string) {
    this.#config = config;
    this.#step = step;
    this.#layout = compileLayout(config, step);
    this.#policy = retryPolicy(config.retry);
    this.#timeoutMs = parseDuration(config.request_timeout, 'request_timeout');
    this.#root = config.path.replace(/\/+$/, '');
    if (
      this.#root === '' ||
      this.#root.split('/').some((s, i) => i > 0 && (s === '' || s === '.' || s === '..'))
    )
      throw new SluiceError(
        'CONFIG_INVALID',
        `path '${config.path}' is not a plain absolute HDFS folder (no empty, '.' or '..' segments, not '/')`,
        { step, path: 'path' },
      );
  }

  /**
   * Runs one WebHDFS call with retries on transient failures. A refusal (no permission, a bad
   * path, a file in the way) fails at once as `PATH_UNUSABLE`; transient failures, once the
   * retries are spent, as `SINK_UNAVAILABLE`.
   */
  async #send<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const policy: RetryPolicy = {
      ...this.#policy,
      isRetryable: isTransient,
      onRetry: (err, attempt, delay) =>
        this.#log?.warn(`hdfs: ${what} failed; retrying`, {
          sink: this.#step,
          attempt,
          delay,
          error: describeError(err),
        }),
    };
    try {
      return await retry(fn, policy, this.#ctx?.signal);
    } catch (err) {
      if (this.#ctx?.signal.aborted || err instanceof SluiceError) throw err;
      const refused = err instanceof WebHdfsError && !err.transient;
      throw new SluiceError(
        refused ? 'PATH_UNUSABLE' : 'SINK_UNAVAILABLE',
        `hdfs: ${what} failed: ${describeError(err)}${refused ? ' (HDFS refused it; check `path`, `user` and the folder’s permissions)' : ''}`,
        { step: this.#step, path: refused ? 'path' : undefined, cause: err },
      );
    }
  }

  #clientOrThrow(): WebHdfs {
    if (this.#client === undefined)
      throw new SluiceError('INTERNAL', 'hdfs sink used before open or after close', { step: this.#step });
    return this.#client;
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#ctx = ctx;
    this.#log = ctx.log;
    this.#client = new WebHdfs({
      url: this.#config.url,
      user: this.#config.user,
      delegation: this.#config.delegation_token,
      timeoutMs: this.#timeoutMs,
      signal: ctx.signal,
    });
    this.#mark = sinkMark(ctx.pipeline, ctx.id, ctx.task);
    this.#staging = `${this.#root}/${IN_PROGRESS_FOLDER}/${this.#mark}`;
    const { format, compression, roll, flush_bytes } = this.#config;
    this.#files = new PartitionedFiles(
      {
        format,
        compression,
        layout: this.#layout,
        maxBytes: roll.max_bytes,
        chunkBytes: flush_bytes,
        mark: this.#mark,
        run: runName(Date.now()),
      },
      {
        start: (path) => {
          const name = path.slice(path.lastIndexOf('/') + 1);
          return {
            staging: `${this.#staging}/${name}.inprogress`,
            final: `${this.#root}/${path}`,
            length: undefined,
          };
        },
        send: (file, bytes) => this.#upload(file, bytes),
        finished: ({ staging, final }) => ({ staging, final }),
      },
    );
    const restored = (ctx.restored as HdfsSinkState | undefined)?.files ?? [];
    // The restored checkpoint is durable: its files are published, whether or not its commit ran.
    for (const file of restored) await this.#publish(file);
    await this.#deleteStrays();
  }

  /** Deletes what is left in this sink's in-progress folder: files of a run no checkpoint covers. */
  async #deleteStrays(): Promise<void> {
    const client = this.#clientOrThrow();
    const left = (await this.#send(`listing ${this.#staging}`, () => client.list(this.#staging))) ?? [];
    for (const entry of left) {
      const path = `${this.#staging}/${entry.pathSuffix}`;
      await this.#send(`deleting ${path}`, () => client.delete(path));
      this.#log?.info('hdfs: deleted an in-progress file no checkpoint covers', { sink: this.#step, path });
    }
  }

  /**
   * Renames `file` into place. One renamed before (a commit that ran before a crash) is left as
   * it is; a missing partition folder is created.
   */
  async #publish(file: PendingFile): Promise<void> {
    const client = this.#clientOrThrow();
    await this.#send(`publishing ${file.final}`, async () => {
      if (await client.rename(file.staging, file.final)) return;
      // Not renamed: renamed already, or the partition folder is missing (or a file is in the way).
      const [from, to] = await Promise.all([client.status(file.staging), client.status(file.final)]);
      if (from === undefined && to !== undefined) return;
      if (from === undefined)
        throw new SluiceError(
          'SINK_UNAVAILABLE',
          `hdfs: the in-progress file ${file.staging} recorded in the checkpoint is gone and ${file.final} ` +
            'is not there (deleted by hand, or the file system was replaced?)',
          { step: this.#step },
        );
      if (to !== undefined)
        throw new SluiceError(
          'PATH_UNUSABLE',
          `hdfs: cannot publish ${file.final}: something else is there already`,
          { step: this.#step, path: 'path' },
        );
      await client.mkdirs(parentOf(file.final));
      if (!(await client.rename(file.staging, file.final)))
        throw new WebHdfsError(`renaming ${file.staging} to ${file.final}: HDFS did not rename it`, 503);
    });
  }

  #filesOrThrow(): PartitionedFiles<OpenFile, PendingFile> {
    if (this.#files === undefined)
      throw new SluiceError('INTERNAL', 'hdfs sink used before open', { step: this.#step });
    return this.#files;
  }

  write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    return this.#filesOrThrow().write(batch, this.#ctx?.clock.now() ?? Date.now());
  }

  /**
   * Sends `body` to the in-progress file of `open`: creates it, or appends to it. An append is
   * not idempotent, so an attempt after a failed one first reads the file's length: when the
   * failed append landed whole it is done; when it landed in part the file is cut back first.
   */
  async #upload(open: OpenFile, body: Uint8Array): Promise<void> {
    const client = this.#clientOrThrow();
    const before = open.length;
    if (before === undefined) {
      await this.#send(`creating ${open.staging}`, () => client.create(open.staging, body));
      open.length = body.length;
      return;
    }
    let retried = false;
    await this.#send(`appending to ${open.staging}`, () => {
      const again = retried;
      retried = true;
      return appendAttempt(client, open.staging, before, body, again);
    });
    open.length = before + body.length;
  }

  async prepareCommit(checkpointId: number): Promise<HdfsSinkState> {
    return { files: await this.#filesOrThrow().prepare(checkpointId) };
  }

  commit(checkpointId: number): Promise<void> {
    return this.#filesOrThrow().commit(checkpointId, (file) => this.#publish(file));
  }

  async close(): Promise<void> {
    await this.#files?.close((file) => this.#publish(file));
    this.#files = undefined;
    this.#client = undefined;
  }

  async abort(): Promise<void> {
    // Prepared files stay: their checkpoint may be durable, and the next open publishes them.
    // What no checkpoint recorded is deleted now (best effort; the next open deletes what remains).
    const left = this.#files?.discard();
    const strays =
      left === undefined ? [] : [...left.open.filter((o) => o.length !== undefined), ...left.finished];
    this.#files = undefined;
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    // The job's signal is aborted by now: these requests go out on a client of their own.
    const cleanup = new WebHdfs({
      url: this.#config.url,
      user: this.#config.user,
      delegation: this.#config.delegation_token,
      timeoutMs: Math.min(this.#timeoutMs, 10_000),
    });
    for (const { staging } of strays) {
      try {
        await cleanup.delete(staging);
      } catch (err) {
        this.#log?.warn('hdfs: could not delete an in-progress file; the next start deletes it', {
          sink: this.#step,
          path: staging,
          error: describeError(err),
        });
      }
    }
  }
}

/** The `hdfs` sink spec. */
export const hdfsSink = defineSink({
  type: 'hdfs',
  summary: 'Writes records as JSON lines or Parquet files to HDFS over WebHDFS, partitioned, exactly-once.',
  delivery: 'exactly-once',
  description: [
    'Records are written as JSON lines (a record read as JSON that no step changed is written as the',
    'text it was read from) or as Parquet (`format`, `compression`) to files under `path`, in Hive-style',
    'folders from the event time and fields given in `partition_by` (`dt=2026-12-06/hour=13/region=EU/`),',
    'the same layout as the `s3` sink. HDFS is reached over its REST API, WebHDFS (or an HttpFS gateway),',
    'with no Hadoop client: `user` is sent as `user.name`. A file is written in its in-progress name',
    '(`<path>/.sluice-inprogress/<mark>/…`) — `jsonl` lines are appended as they come (`flush_bytes`),',
    '`parquet` is encoded whole when finished — and is finished when it reaches `roll.max_bytes`, when',
    'it has been open `roll.max_age`, and at every checkpoint.',
    '',
    'Exactly-once: a finished file is only *prepared* — its in-progress and final paths go into the',
    'checkpoint — and is renamed into place (made visible) once the checkpoint is durable. After a crash',
    'the restart renames the files of the restored checkpoint and deletes every other in-progress file',
    'this sink wrote (its folder is named by a mark made from the pipeline name, the sink id and, scaled',
    'out, the task), so each record is published once. Files are named',
    '`part-<mark>-<run>-<sequence>.<format>` and sort in the order written.',
    '',
    'A record that cannot be written as JSON goes to the dead-letter output. Requests that fail',
    'transiently (no answer, connection refused, 5xx, a standby NameNode, safe mode, a lease being',
    'recovered) are retried with capped backoff (`retry`); an append retried after a failure first',
    'checks the file’s length, so a retried append never writes its data twice. A refusal (no',
    'permission, a bad path, a file in the way) fails the job with HDFS’s reason.',
  ].join('\n'),
  example: [
    'type: hdfs',
    'url: http://namenode:9870',
    'path: /data/orders',
    'user: etl',
    'format: parquet',
    'partition_by:',
    '  time: dt={yyyy-MM-dd}/hour={HH}',
    '  fields: [region]',
    'roll:',
    '  max_bytes: 67108864',
    '  max_age: 5m',
  ].join('\n'),
  config: hdfsSinkConfig,
  create(config, sink) {
    return new HdfsSink(config, sink?.id ?? 'hdfs');
  },
});
