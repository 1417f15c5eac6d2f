/**
 * Helpers for the `hdfs` package's tests against the Hadoop minicluster that
 * `scripts/services.sh up hdfs` starts: a reachability check that skips (or, under CI, fails),
 * a fresh folder per test, and reading back what a reader of the folder sees. Not a public API.
 */

import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Clock, Logger, Sink } from '@sluice/core';
import { serviceAvailable } from '@sluice/core/testing';
import { openSink, type ParquetReadBack, readParquetWithDuckdb } from '@sluice/files/testing';
import { hdfsSink } from './sink.ts';
import { WebHdfs } from './webhdfs.ts';

export const HDFS_HOST = '127.0.0.1:9870';
export const HDFS_URL = `http://${HDFS_HOST}`;
/** The user the tests write as (the minicluster runs with permissions off). */
export const HDFS_USER = 'sluice';
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Why the tests skip when the minicluster is not there. */
export const HDFS_MISSING = `hdfs not reachable at ${HDFS_HOST}`;

/**
 * Whether the minicluster's WebHDFS accepts connections. When it does not: prints "skipped: …"
 * and returns false, or under CI (`CI=true`) throws, so the test file fails instead of skipping.
 */
export function hdfsAvailable(): Promise<boolean> {
  return serviceAvailable('hdfs', HDFS_HOST, 'bash scripts/services.sh up hdfs');
}

/** A client of the test cluster, as the tests' user. */
export function testClient(): WebHdfs {
  return new WebHdfs({ url: HDFS_URL, user: HDFS_USER, timeoutMs: 30_000 });
}

/** A loopback URL nothing listens at (a port just freed), for tests of a NameNode that does not answer. */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

let counter = 0;

/** A folder name no other test (of this or another process) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** A fresh folder on the test cluster, and how to read and remove it. */
export class TestFolder {
  readonly path: string;
  readonly client: WebHdfs;

  private constructor(path: string, client: WebHdfs) {
    this.path = path;
    this.client = client;
  }

  static async create(prefix = 'sluice-test'): Promise<TestFolder> {
    const client = testClient();
    const path = `/sluice-tests/${uniqueName(prefix)}`;
    await client.mkdirs(path);
    return new TestFolder(path, client);
  }

  /**
   * Paths of the files under `sub` (relative to this folder), in path order. Folders whose names
   * start with `.` or `_` are left out — the in-progress folder — as Hive and Spark leave them out.
   */
  async files(sub = ''): Promise<string[]> {
    const out: string[] = [];
    const walk = async (relative: string): Promise<void> => {
      const entries = (await this.client.list(`${this.path}${relative === '' ? '' : `/${relative}`}`)) ?? [];
      for (const e of entries) {
        const path = relative === '' ? e.pathSuffix : `${relative}/${e.pathSuffix}`;
        if (e.type === 'DIRECTORY') {
          if (!/^[._]/.test(e.pathSuffix)) await walk(path);
        } else out.push(path);
      }
    };
    await walk(sub.replace(/\/+$/, ''));
    return out.sort();
  }

  /** The in-progress files (`<mark>/<name>`) of every sink writing under `sub`. */
  async inProgress(sub = ''): Promise<string[]> {
    const staging = `${this.path}${sub === '' ? '' : `/${sub}`}/.sluice-inprogress`;
    const out: string[] = [];
    for (const mark of (await this.client.list(staging)) ?? [])
      for (const e of (await this.client.list(`${staging}/${mark.pathSuffix}`)) ?? [])
        out.push(`${mark.pathSuffix}/${e.pathSuffix}`);
    return out.sort();
  }

  /** The bytes of one file (a path relative to this folder). */
  read(file: string): Promise<Uint8Array> {
    return this.client.read(`${this.path}/${file}`);
  }

  /** The records of one JSON-lines file (a path relative to this folder). */
  async linesOf(file: string): Promise<{ [k: string]: unknown }[]> {
    const text = Buffer.from(await this.read(file)).toString('utf8');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { [k: string]: unknown });
  }

  /** The records of every JSON-lines file under `sub`, files in path order. */
  async jsonLines(sub = ''): Promise<{ [k: string]: unknown }[]> {
    const out: { [k: string]: unknown }[] = [];
    for (const file of await this.files(sub))
      if (file.endsWith('.jsonl')) out.push(...(await this.linesOf(file)));
    return out;
  }

  /** The rows of every Parquet file under `sub`, files in path order, as DuckDB reads them. */
  async parquet(sub = ''): Promise<ParquetReadBack> {
    const files: Uint8Array[] = [];
    for (const file of await this.files(sub))
      if (file.endsWith('.parquet')) files.push(await this.read(file));
    return readParquetWithDuckdb(files);
  }

  /** Removes the folder and what it holds. */
  async dispose(): Promise<void> {
    await this.client.delete(this.path, true);
  }
}

/**
 * Opens the `hdfs` sink outside a job with `options` (defaults applied; the test cluster's URL
 * and user), as step `id` of `pipeline`, resuming from `restored` when given.
 */
export async function openHdfsSink(
  options: { [k: string]: unknown },
  job: { pipeline: string; id?: string; restored?: unknown; clock?: Clock; log?: Logger },
): Promise<Sink> {
  return openSink(hdfsSink, { url: HDFS_URL, user: HDFS_USER, ...options }, job);
}
