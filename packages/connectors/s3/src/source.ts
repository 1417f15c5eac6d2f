/**
 * The `s3` source: the objects under a prefix, read in key order (JSON lines, CSV or text), new
 * ones discovered by listing again; the position — the last object read whole and the byte offset
 * within the current one — is in the checkpoint.
 */

import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  createDecoder,
  defineSource,
  type Logger,
  parseDuration,
  type RecordDecoder,
  type RetryPolicy,
  retry,
  retryPolicy,
  SluiceError,
  type SourceBatch,
  type SourceContext,
  type SourceReader,
  sleep,
  sourceBatchOf,
} from '@sluice/core';
import { decodeParquet } from '@sluice/files';
import { createClient, credentialsProblem, describeError, isTransient } from './client-config.ts';
import { type S3SourceConfig, type S3SourcePosition, s3SourceConfig } from './source-config.ts';

/**
 * The object being read: its key and its decoder (JSON lines, CSV, text), or its rows and the
 * index of the next one to return (Parquet).
 */
type Current = { key: string; decoder: RecordDecoder } | ParquetObject;

/** A Parquet object being read: its rows, the next to return, or why it could not be read. */
interface ParquetObject {
  key: string;
  rows: { [k: string]: unknown }[];
  next: number;
  failure?: string;
}

export class S3Reader implements SourceReader {
  readonly partition: string;
  readonly #config: S3SourceConfig;
  readonly #client: S3Client;
  readonly #policy: RetryPolicy;
  readonly #pollMs: number;
  readonly #log: Logger;
  #done: string | null;
  #current: Current | undefined;
  /** Restored position inside an object, used when that object is opened again. */
  #resume: { key: string; offset: number; columns?: string[] } | undefined;

  constructor(config: S3SourceConfig, ctx: SourceContext, restored: S3SourcePosition | undefined) {
    this.#config = config;
    this.partition = `${config.bucket}/${config.prefix}`;
    this.#client = createClient(config);
    this.#log = ctx.log;
    this.#pollMs = parseDuration(config.poll_interval, 'poll_interval');
    this.#policy = {
      ...retryPolicy(config.retry),
      isRetryable: isTransient,
      onRetry: (err, attempt, delay) =>
        ctx.log.warn('s3: request failed; retrying', {
          source: ctx.id,
          attempt,
          delay,
          error: describeError(err),
        }),
    };
    this.#done = restored?.done ?? null;
    if (restored?.key !== undefined)
      this.#resume = { key: restored.key, offset: restored.offset ?? 0, columns: restored.columns };
  }

  async #send<T>(what: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    try {
      return await retry(fn, this.#policy, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new SluiceError('SOURCE_UNAVAILABLE', `s3: ${what} failed: ${describeError(err)}`, {
        cause: err,
      });
    }
  }

  /** The first object after `#done` in key order (folder markers left out), if any. */
  async #nextKey(signal: AbortSignal): Promise<string | undefined> {
    const { bucket, prefix } = this.#config;
    let token: string | undefined;
    do {
      const page = await this.#send(
        `listing s3://${bucket}/${prefix}`,
        () =>
          this.#client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix,
              ContinuationToken: token,
              ...(token === undefined && this.#done !== null ? { StartAfter: this.#done } : {}),
              MaxKeys: 100,
            }),
            { abortSignal: signal },
          ),
        signal,
      );
      for (const o of page.Contents ?? []) if (o.Key !== undefined && !o.Key.endsWith('/')) return o.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return undefined;
  }

  /** Opens `key` from the restored offset (or its start) and pushes its bytes into a new decoder. */
  async #open(key: string, signal: AbortSignal): Promise<Current> {
    const resume = this.#resume?.key === key ? this.#resume : undefined;
    this.#resume = undefined;
    const { format } = this.#config;
    if (format === 'parquet') {
      const bytes = await this.#get(key, 0, signal);
      try {
        return { key, rows: decodeParquet(bytes), next: resume?.offset ?? 0 };
      } catch (err) {
        return { key, rows: [], next: 0, failure: `not a Parquet file: ${describeError(err)}` };
      }
    }
    const decoder = createDecoder({ ...this.#config, format });
    const offset = resume?.offset ?? 0;
    if (offset > 0) decoder.reset(offset, resume?.columns);
    const body = await this.#get(key, offset, signal);
    decoder.push(body);
    return { key, decoder };
  }

  /** The bytes of `key` from `offset` on. */
  #get(key: string, offset: number, signal: AbortSignal): Promise<Uint8Array> {
    return this.#send(
      `reading s3://${this.#config.bucket}/${key}`,
      async () => {
        const out = await this.#client.send(
          new GetObjectCommand({
            Bucket: this.#config.bucket,
            Key: key,
            ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
          }),
          { abortSignal: signal },
        );
        return out.Body === undefined ? new Uint8Array(0) : out.Body.transformToByteArray();
      },
      signal,
    );
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    for (;;) {
      if (this.#current === undefined) {
        const key = this.#resume?.key ?? (await this.#nextKey(signal));
        if (key === undefined) {
          if (!this.#config.follow) return null;
          await sleep(this.#pollMs, signal);
          return { records: [] };
        }
        this.#current = await this.#open(key, signal);
      }
      const current = this.#current;
      if ('rows' in current) {
        const batch = this.#parquetBatch(current, max);
        if (batch.records.length > 0 || batch.failures !== undefined) return batch;
        continue;
      }
      const out = current.decoder.newOutput();
      const n = current.decoder.decode(out, max, true);
      if (current.decoder.pending === 0) {
        // Read whole: the next position names it done.
        this.#done = current.key;
        this.#current = undefined;
      }
      if (n > 0) {
        const batch = sourceBatchOf(out);
        if (batch.failures)
          for (const f of batch.failures) f.message = `${f.message} (object ${current.key})`;
        return batch;
      }
    }
  }

  /** The next rows of a Parquet object (or its one failure); marks it done after its last. */
  #parquetBatch(current: ParquetObject, max: number): SourceBatch {
    const batch: SourceBatch = { records: [] };
    if (current.failure !== undefined) {
      batch.failures = [
        { payload: current.key, message: `${current.failure} (object ${current.key})`, offset: 0 },
      ];
    } else {
      const end = Math.min(current.rows.length, current.next + max);
      batch.records = current.rows.slice(current.next, end) as SourceBatch['records'];
      batch.offsets = batch.records.map((_, i) => current.next + i);
      current.next = end;
    }
    if (current.failure !== undefined || current.next >= current.rows.length) {
      this.#done = current.key;
      this.#current = undefined;
    }
    return batch;
  }

  position(): S3SourcePosition {
    const current = this.#current;
    if (current !== undefined && 'rows' in current)
      return { done: this.#done, key: current.key, offset: current.next };
    if (current !== undefined) {
      const position: S3SourcePosition = {
        done: this.#done,
        key: current.key,
        offset: current.decoder.offset,
      };
      const columns = current.decoder.columns;
      if (this.#config.format === 'csv' && columns !== undefined) position.columns = [...columns];
      return position;
    }
    if (this.#resume !== undefined)
      return {
        done: this.#done,
        key: this.#resume.key,
        offset: this.#resume.offset,
        columns: this.#resume.columns,
      };
    return { done: this.#done };
  }

  async close(): Promise<void> {
    this.#client.destroy();
    this.#log.debug('s3: source closed', { partition: this.partition });
  }
}

/** The `s3` source spec. */
export const s3Source = defineSource({
  type: 's3',
  summary: 'Reads the objects under a prefix of S3-compatible storage in key order, discovering new ones.',
  identity: ['bucket', 'prefix'],
  delivery: 'exactly-once',
  description: [
    'Lists the objects under `prefix` in key order and reads each whole, one after another, decoding',
    'it as JSON lines, CSV or text (`format`, as the `file` source does) or Parquet. With `follow` it lists again',
    'every `poll_interval` for objects after the last one read; otherwise it ends once it has read',
    'those there at the start. Objects must appear in key order — name them by time or sequence',
    '(as the `s3` sink does): an object whose key sorts before one already read is not read.',
    '',
    'Its position is the key of the last object read whole and the byte offset (Parquet: the row)',
    'reached in the current one; a restart resumes there (a ranged GET; a Parquet object is read again',
    'and its rows before the position skipped), so delivery is exactly-once: nothing is',
    'lost or read twice. A line or row that does not decode goes to the dead-letter output with',
    'its object and offset. Requests that fail transiently are retried with capped backoff',
    '(`retry`); a refusal (wrong credentials, no such bucket) fails the job.',
  ].join('\n'),
  example: ['type: s3', 'bucket: events', 'prefix: incoming/', 'format: json', 'poll_interval: 30s'].join(
    '\n',
  ),
  config: s3SourceConfig,
  bounded: (config) => !config.follow,
  create(config) {
    const problem = credentialsProblem(config);
    if (problem !== undefined) throw new SluiceError('CONFIG_INVALID', problem, { path: 'access_key_id' });
    return {
      async open(ctx) {
        const partition = `${config.bucket}/${config.prefix}`;
        return [new S3Reader(config, ctx, ctx.restored[partition] as S3SourcePosition | undefined)];
      },
    };
  },
});
