/**
 * Helpers for the `s3` package's tests against the S3Proxy that `scripts/services.sh up` starts:
 * a reachability check that skips (or, under CI, fails), a fresh bucket per test, and reading
 * back what a reader of the bucket sees. Not a public API.
 */

import { fileURLToPath } from 'node:url';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Clock, Logger, Sink } from '@sluice/core';
import { serviceAvailable } from '@sluice/core/testing';
import { openSink, type ParquetReadBack, readParquetWithDuckdb } from '@sluice/files/testing';
import { createClient } from './client-config.ts';
import { s3Sink } from './sink.ts';

export const S3_HOST = '127.0.0.1:9000';
export const S3_ENDPOINT = `http://${S3_HOST}`;
/** The test-only credentials of scripts/s3proxy.sh (fixed, not secrets). */
export const S3_ACCESS_KEY_ID = 'sluice-s3-access';
export const S3_SECRET_ACCESS_KEY = 'sluice-s3-secret';
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** The options that reach the test server, for a sink or source config. */
export const serverOptions = {
  endpoint: S3_ENDPOINT,
  force_path_style: true,
  access_key_id: S3_ACCESS_KEY_ID,
  secret_access_key: S3_SECRET_ACCESS_KEY,
};

/**
 * Whether S3Proxy accepts connections. When it does not: prints "skipped: …" and returns false,
 * or under CI (`CI=true`) throws, so the test file fails instead of skipping.
 */
export function s3Available(): Promise<boolean> {
  return serviceAvailable('s3proxy', S3_HOST, 'bash scripts/services.sh up s3');
}

let counter = 0;

/** A bucket name no other test (of this or another process) uses: lowercase, at most 63 characters. */
export function uniqueBucket(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`.toLowerCase().slice(0, 63);
}

/** A client of the test server. */
export function testClient(): S3Client {
  return createClient({
    bucket: 'unused',
    prefix: '',
    region: 'us-east-1',
    ...serverOptions,
    retry: { max_attempts: 1, initial_backoff: '10ms', max_backoff: '10ms' },
  } as Parameters<typeof createClient>[0]);
}

/** A fresh bucket on the test server, and how to read and remove it. */
export class TestBucket {
  readonly name: string;
  readonly client: S3Client;

  private constructor(name: string, client: S3Client) {
    this.name = name;
    this.client = client;
  }

  static async create(prefix = 'sluice-test'): Promise<TestBucket> {
    const client = testClient();
    const name = uniqueBucket(prefix);
    await client.send(new CreateBucketCommand({ Bucket: name }));
    return new TestBucket(name, client);
  }

  /** Keys of the objects under `prefix` (folder markers left out), in key order. */
  async keys(prefix = ''): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key !== undefined && !o.Key.endsWith('/')) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys.sort();
  }

  /** Writes one object. */
  async put(key: string, body: string | Uint8Array): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body }));
  }

  /** The bytes of one object. */
  async get(key: string): Promise<Uint8Array> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key }));
    if (out.Body === undefined) throw new Error(`no body for ${key}`);
    return out.Body.transformToByteArray();
  }

  /** The keys of the multipart uploads not completed or aborted. */
  async uploads(prefix = ''): Promise<string[]> {
    const page = await this.client.send(
      new ListMultipartUploadsCommand({ Bucket: this.name, Prefix: prefix }),
    );
    return (page.Uploads ?? []).map((u) => u.Key ?? '').sort();
  }

  /**
   * The bytes of every object under `prefix` whose key passes `wanted`, in key order. S3Proxy's
   * filesystem store has answered NoSuchKey for an object it had just listed while the sink was
   * completing uploads (seen once in CI under load; the sink deletes nothing): the read starts
   * again from the listing then.
   */
  async #objects(prefix: string, wanted: (key: string) => boolean): Promise<[string, Uint8Array][]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const out: [string, Uint8Array][] = [];
        for (const key of (await this.keys(prefix)).filter(wanted)) out.push([key, await this.get(key)]);
        return out;
      } catch (err) {
        if (!(err instanceof Error && err.name === 'NoSuchKey') || attempt === 20) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** The records of every JSON-lines object under `prefix`, objects in key order. */
  async jsonLines(prefix = ''): Promise<{ [k: string]: unknown }[]> {
    const out: { [k: string]: unknown }[] = [];
    for (const [, bytes] of await this.#objects(prefix, () => true)) {
      const text = Buffer.from(bytes).toString('utf8');
      for (const line of text.split('\n')) if (line !== '') out.push(JSON.parse(line));
    }
    return out;
  }

  /** The records of every Parquet object under `prefix`, as `parquet` reads them. */
  async parquetRecords(prefix = ''): Promise<{ [k: string]: unknown }[]> {
    return (await this.parquet(prefix)).records;
  }

  /**
   * The records of every Parquet object under `prefix`, objects in key order, as DuckDB reads
   * them (each row as DuckDB's JSON of it), with the files' column chunk metadata (codec,
   * statistics).
   */
  async parquet(prefix = ''): Promise<ParquetReadBack> {
    const objects = await this.#objects(prefix, (k) => k.endsWith('.parquet'));
    return readParquetWithDuckdb(objects.map(([, bytes]) => bytes));
  }

  /** Removes unfinished uploads, objects (with folder markers) and the bucket. */
  async dispose(): Promise<void> {
    const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.name }));
    for (const u of page.Uploads ?? [])
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.name, Key: u.Key, UploadId: u.UploadId }),
      );
    let token: string | undefined;
    const all: string[] = [];
    do {
      const listed = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.name, ContinuationToken: token }),
      );
      for (const o of listed.Contents ?? []) if (o.Key !== undefined) all.push(o.Key);
      token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
    } while (token !== undefined);
    // Deepest first, so a folder marker goes after what it holds.
    for (const key of all.sort((a, b) => b.length - a.length))
      await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }));
    await this.client.send(new DeleteBucketCommand({ Bucket: this.name }));
    this.client.destroy();
  }
}

/**
 * Opens the `s3` sink outside a job with `options` (defaults applied; the test server's endpoint
 * and credentials), as step `id` of `pipeline`, resuming from `restored` when given.
 */
export async function openS3Sink(
  options: { [k: string]: unknown },
  job: { pipeline: string; id?: string; restored?: unknown; clock?: Clock; log?: Logger },
): Promise<Sink> {
  return openSink(s3Sink, { ...serverOptions, ...options }, job);
}
