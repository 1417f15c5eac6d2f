/**
 * Opening a DuckDB database file for the `duckdb` sink (and for `sluice query`): one instance per
 * file in this process, shared through DuckDB's instance cache, so a second user of the file in
 * the same process (a lookup, a query) shares the writer's instance rather than fight over the
 * file's lock.
 */

import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/** `path` resolved against `baseDir`, `:memory:` as it is. */
export function databasePath(path: string, baseDir: string): string {
  if (path === ':memory:' || isAbsolute(path)) return path;
  return resolve(baseDir, path);
}

/** The process's instance for `path`, opened read-write (creating the file and its folder when missing). */
export function openDatabase(path: string): Promise<DuckDBInstance> {
  // `:memory:` is not cached by name: each sink gets its own database.
  if (path === ':memory:') return DuckDBInstance.create(path);
  mkdirSync(dirname(path), { recursive: true });
  return DuckDBInstance.fromCache(path);
}

/** A new instance of `path` opened read-only: for readers in another process than the writer. */
export function openReadOnly(path: string): Promise<DuckDBInstance> {
  return DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
}
