/**
 * Opening a DuckDB database file for the `duckdb` sink (and for `sluice query`): one instance per
 * file in this process, shared through DuckDB's instance cache, so a second user of the file in
 * the same process (a lookup, a query) shares the writer's instance rather than fight over the
 * file's lock.
 */

import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/**
 * DuckDB runs this connector's statements on one thread: they are small (a batch appended, a
 * batch of keys looked up) and share the machine with the pipeline's own thread. With DuckDB's
 * default (a thread per core) a lookup whose key failed to cast once spun at full CPU for minutes
 * in a heavily loaded full test run; it was not reproduced alone, and the connector does not
 * depend on DuckDB's parallelism.
 */
const OPTIONS = { threads: '1' };

/** `path` resolved against `baseDir`, `:memory:` as it is. */
export function databasePath(path: string, baseDir: string): string {
  if (path === ':memory:' || isAbsolute(path)) return path;
  return resolve(baseDir, path);
}

/** The process's instance for `path`, opened read-write (creating the file and its folder when missing). */
export function openDatabase(path: string): Promise<DuckDBInstance> {
  // `:memory:` is not cached by name: each sink gets its own database.
  if (path === ':memory:') return DuckDBInstance.create(path, OPTIONS);
  mkdirSync(dirname(path), { recursive: true });
  return DuckDBInstance.fromCache(path, OPTIONS);
}

/** A new instance of `path` opened read-only: for readers in another process than the writer. */
export function openReadOnly(path: string): Promise<DuckDBInstance> {
  return DuckDBInstance.create(path, { ...OPTIONS, access_mode: 'READ_ONLY' });
}
