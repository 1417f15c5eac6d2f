/**
 * Helpers for tests of the `duckdb` sink: a fresh folder for database files, and reading a file
 * the way a reader in this process does (through the shared instance).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Row } from '@sluice/core';
import { openDatabase } from './database.ts';

/** A temporary folder of database files, removed by `dispose`. */
export class TestFolder {
  readonly dir = mkdtempSync(join(tmpdir(), 'sluice-duckdb-'));
  #n = 0;
  /** A database file path not used before. */
  file(): string {
    return join(this.dir, `db-${++this.#n}.duckdb`);
  }
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The rows `sql` selects from the database file at `path`, as JavaScript values. */
export async function queryFile(path: string, sql: string): Promise<Row[]> {
  const db = await openDatabase(path);
  const conn = await db.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Row[];
  } finally {
    conn.closeSync();
  }
}
