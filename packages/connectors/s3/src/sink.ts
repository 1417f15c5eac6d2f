/**
 * The `s3` sink: records as JSON lines in objects under a prefix, in Hive-style partition folders,
 * each object a multipart upload that completes only once the checkpoint covering it is durable.
 */

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  defineSink,
  type Logger,
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
import { createClient, credentialsProblem, describeError, isTransient, statusOf } from './client-config.ts';
import { type PreparedUpload, type S3SinkConfig, type S3SinkState, s3SinkConfig } from './sink-config.ts';

/** An object being written: its upload and the parts sent. */
type OpenObject = PreparedUpload;

class S3Sink implements Sink {
  readonly #config: S3SinkConfig;
  readonly #step: string;
  readonly #layout: Layout;
  readonly #policy: RetryPolicy;
  #client: S3Client | undefined;
  #ctx: SinkContext | undefined;
  #log: Logger | undefined;
  #mark = '';
  /** The objects of this run, from `open` on. */
  #objects: PartitionedFiles<OpenObject, PreparedUpload> | undefined;

  constructor(config: S3SinkConfig, step: string) {
    this.#config = config;
    this.#step = step;
    const credentials = credentialsProblem(config);
    if (credentials !== undefined)
      throw new SluiceError('CONFIG_INVALID', credentials, { step, path: 'access_key_id' });
    this.#layout = compileLayout(config, step);
    this.#policy = retryPolicy(config.retry);
  }

  /** Runs one S3 request with retries on transient failures; wraps the last failure. */
  async #send<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const policy: RetryPolicy = {
      ...this.#policy,
      isRetryable: isTransient,
      onRetry: (err, attempt, delay) =>
        this.#log?.warn(`s3: ${what} failed; retrying`, {
          sink: this.#step,
          attempt,
          delay,
          error: describeError(err),
        }),
    };
    try {
      return await retry(fn, policy, this.#ctx?.signal);
    } catch (err) {
      if (this.#ctx?.signal.aborted) throw err;
      throw new SluiceError('SINK_UNAVAILABLE', `s3: ${what} failed: ${describeError(err)}`, {
        step: this.#step,
        cause: err,
      });
    }
  }

  #clientOrThrow(): S3Client {
    if (this.#client === undefined)
      throw new SluiceError('INTERNAL', 's3 sink used before open or after close', { step: this.#step });
    return this.#client;
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#ctx = ctx;
    this.#log = ctx.log;
    this.#client = createClient(this.#config);
    this.#mark = sinkMark(ctx.pipeline, ctx.id, ctx.task);
    const { format, compression, roll, part_bytes } = this.#config;
    this.#objects = new PartitionedFiles(
      {
        format,
        compression,
        layout: this.#layout,
        maxBytes: roll.max_bytes,
        chunkBytes: part_bytes,
        mark: this.#mark,
        run: runName(Date.now()),
      },
      {
        start: (path) => this.#start(path),
        send: (object, bytes) => this.#sendParts(object, bytes),
        finished: (object) => object,
      },
    );
    const restored = (ctx.restored as S3SinkState | undefined)?.uploads ?? [];
    // The restored checkpoint is durable: its objects are published, whether or not its commit ran.
    for (const upload of restored) await this.#complete(upload);
    await this.#abortStrays(new Set(restored.map((u) => u.uploadId)));
  }

  /**
   * Aborts the uploads under the prefix that this sink started (its mark in the key) and that
   * `keep` does not name: objects of a run that failed before its checkpoint.
   */
  async #abortStrays(keep: Set<string>): Promise<void> {
    const client = this.#clientOrThrow();
    const { bucket, prefix } = this.#config;
    const mine = new RegExp(`(^|/)part-${this.#mark}-[^/]*$`);
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.#send('listing unfinished uploads', () =>
        client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            Prefix: prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        ),
      );
      for (const upload of page.Uploads ?? []) {
        const { Key: key, UploadId: uploadId } = upload;
        if (key === undefined || uploadId === undefined || keep.has(uploadId) || !mine.test(key)) continue;
        await this.#abortUpload(key, uploadId);
        this.#log?.info('s3: aborted an upload no checkpoint covers', { sink: this.#step, key });
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async #abortUpload(key: string, uploadId: string): Promise<void> {
    const client = this.#clientOrThrow();
    await this.#send(`aborting the upload of ${key}`, async () => {
      try {
        await client.send(
          new AbortMultipartUploadCommand({ Bucket: this.#config.bucket, Key: key, UploadId: uploadId }),
        );
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    });
  }

  /** Completes `upload`; one completed before (a commit that ran before a crash) is left as it is. */
  async #complete(upload: PreparedUpload): Promise<void> {
    const client = this.#clientOrThrow();
    const { bucket } = this.#config;
    await this.#send(`completing ${upload.key}`, async () => {
      try {
        await client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: upload.key,
            UploadId: upload.uploadId,
            MultipartUpload: { Parts: upload.parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
          }),
        );
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
        // No such upload: completed already if the object is there; otherwise it is lost.
        try {
          await client.send(new HeadObjectCommand({ Bucket: bucket, Key: upload.key }));
        } catch (head) {
          if (statusOf(head) === 404)
            throw new SluiceError(
              'SINK_UNAVAILABLE',
              `s3: the upload of ${upload.key} recorded in the checkpoint is gone and the object is not there ` +
                '(aborted by a bucket lifecycle rule or by hand?)',
              { step: this.#step, cause: err },
            );
          throw head;
        }
      }
    });
  }

  #objectsOrThrow(): PartitionedFiles<OpenObject, PreparedUpload> {
    if (this.#objects === undefined)
      throw new SluiceError('INTERNAL', 's3 sink used before open', { step: this.#step });
    return this.#objects;
  }

  write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    return this.#objectsOrThrow().write(batch, this.#ctx?.clock.now() ?? Date.now());
  }

  async #start(path: string): Promise<OpenObject> {
    const client = this.#clientOrThrow();
    const key = `${this.#config.prefix}${path}`;
    const created = await this.#send(`starting the upload of ${key}`, () =>
      client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.#config.bucket,
          Key: key,
          ContentType:
            this.#config.format === 'parquet' ? 'application/vnd.apache.parquet' : 'application/x-ndjson',
        }),
      ),
    );
    if (created.UploadId === undefined)
      throw new SluiceError('SINK_UNAVAILABLE', `s3: the server gave no upload id for ${key}`, {
        step: this.#step,
      });
    return { key, uploadId: created.UploadId, parts: [] };
  }

  /**
   * Uploads `bytes` as the next parts of `object`: parts of `part_bytes`, the last taking what
   * is left up to twice that, so that no part but an object's last is under S3's least.
   */
  async #sendParts(object: OpenObject, bytes: Uint8Array): Promise<void> {
    const size = this.#config.part_bytes;
    for (let at = 0; at < bytes.length; ) {
      const end = bytes.length - at < 2 * size ? bytes.length : at + size;
      await this.#uploadPart(object, bytes.subarray(at, end));
      at = end;
    }
  }

  /** Uploads `body` as the next part of `object`. */
  async #uploadPart(object: OpenObject, body: Uint8Array): Promise<void> {
    const client = this.#clientOrThrow();
    const n = object.parts.length + 1;
    const sent = await this.#send(`uploading part ${n} of ${object.key}`, () =>
      client.send(
        new UploadPartCommand({
          Bucket: this.#config.bucket,
          Key: object.key,
          UploadId: object.uploadId,
          PartNumber: n,
          Body: body,
          ContentLength: body.length,
        }),
      ),
    );
    if (sent.ETag === undefined)
      throw new SluiceError(
        'SINK_UNAVAILABLE',
        `s3: the server gave no ETag for part ${n} of ${object.key}`,
        {
          step: this.#step,
        },
      );
    object.parts.push({ n, etag: sent.ETag });
  }

  async prepareCommit(checkpointId: number): Promise<S3SinkState> {
    return { uploads: await this.#objectsOrThrow().prepare(checkpointId) };
  }

  commit(checkpointId: number): Promise<void> {
    return this.#objectsOrThrow().commit(checkpointId, (upload) => this.#complete(upload));
  }

  async close(): Promise<void> {
    await this.#objects?.close((upload) => this.#complete(upload));
    this.#objects = undefined;
    this.#client?.destroy();
    this.#client = undefined;
  }

  async abort(): Promise<void> {
    // Prepared objects stay: their checkpoint may be durable, and the next open completes them.
    // What no checkpoint recorded is aborted now (best effort; the next open aborts what remains).
    const left = this.#objects?.discard();
    const strays = left === undefined ? [] : [...left.open, ...left.finished];
    this.#objects = undefined;
    const client = this.#client;
    if (client === undefined) return;
    for (const { key, uploadId } of strays) {
      try {
        await client.send(
          new AbortMultipartUploadCommand({ Bucket: this.#config.bucket, Key: key, UploadId: uploadId }),
        );
      } catch (err) {
        this.#log?.warn('s3: could not abort an upload; the next start aborts it', {
          sink: this.#step,
          key,
          error: describeError(err),
        });
      }
    }
    client.destroy();
    this.#client = undefined;
  }
}

/** The `s3` sink spec. */
export const s3Sink = defineSink({
  type: 's3',
  summary:
    'Writes records as JSON lines or Parquet to S3-compatible object storage, partitioned, exactly-once.',
  delivery: 'exactly-once',
  description: [
    'Records are written as JSON lines (a record read as JSON that no step changed is written as the',
    'text it was read from) or as Parquet (`format`, `compression`) to objects under `prefix`, in Hive-style folders from the event time and',
    'fields given in `partition_by` (`dt=2026-12-06/hour=13/region=EU/`). Each object is a multipart',
    'upload whose parts (`part_bytes`, 5 MiB at least) are sent while it grows (`jsonl`) or once it is',
    'finished (`parquet`, encoded whole with parquet-wasm); it is finished when it',
    'reaches `roll.max_bytes`, when it has been open `roll.max_age`, and at every checkpoint.',
    '',
    'Exactly-once: a finished object is only *prepared* — its upload id and part ETags go into the',
    'checkpoint — and is completed (made visible) once the checkpoint is durable. After a crash the',
    'restart completes the uploads of the restored checkpoint and aborts every other upload this sink',
    'started (its keys carry a mark made from the pipeline name, the sink id and, scaled out, the task), so each record is',
    'published once. Objects are named `part-<mark>-<run>-<sequence>.<format>` and sort in the order',
    'written. Give the bucket a lifecycle rule that aborts incomplete multipart uploads after some',
    'days longer than a job may stay down, for uploads of a sink that never restarts.',
    '',
    'A record that cannot be written as JSON goes to the dead-letter output. Requests that fail',
    'transiently (no answer, 5xx, throttling) are retried with capped backoff (`retry`); a refusal',
    '(wrong credentials, no such bucket) fails the job.',
  ].join('\n'),
  example: [
    'type: s3',
    'bucket: events',
    'prefix: orders/',
    'format: parquet',
    'partition_by:',
    '  time: dt={yyyy-MM-dd}/hour={HH}',
    '  fields: [region]',
    'roll:',
    '  max_bytes: 67108864',
    '  max_age: 5m',
  ].join('\n'),
  config: s3SinkConfig,
  create(config, sink) {
    return new S3Sink(config, sink?.id ?? 's3');
  },
});
