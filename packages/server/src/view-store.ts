/**
 * A view's rows in an embedded SQLite database (`node:sqlite`, built into Node): the `view`
 * sink's `store: disk`. The table may be larger than memory (SQLite keeps a bounded page cache),
 * and a checkpoint writes only what changed since the last one.
 *
 * Crash consistency, as a checkpoint needs it: the rows written between two checkpoints stay in
 * one open SQLite transaction, so a crash (kill -9 included) before the next checkpoint rolls
 * them back by itself. `commit(id)` — called by the sink's `prepareCommit` — commits that
 * transaction durably (WAL, `synchronous = FULL`) tagged with the checkpoint id. The one window
 * this leaves is a crash after that commit and before the job's checkpoint file is durable: the
 * store is then ahead of the checkpoint the job restores. So each transaction also keeps, for
 * every key it changes, the key's value before it (`undo`, by the tag it started from, written
 * once per key and transaction), and `rollbackTo(id)` plays those back, newest first, to the
 * state tagged `id`. The undo of the last `UNDO_TAGS` tags is kept, so a restore may go back that
 * many checkpoints (a checkpoint store keeps 3 by default and falls back to an older one when the
 * newest is unreadable).
 *
 * Keys are stored as UTF-16 big-endian blobs: SQLite compares blobs bytewise, which for that
 * encoding is the order of UTF-16 code units — the order `<` gives strings and the memory rows
 * use — so scans answer in the same order whichever the store.
 */

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { SluiceError } from '@sluice/core';
import type { StoredRow, ViewRows } from './view-rows.ts';

/** How many of the newest checkpoint tags keep their undo entries. */
export const UNDO_TAGS = 8;

/** What `StoreRows.open` needs. */
export interface StoreOptions {
  /** The folder of the database (`view.sqlite` and its WAL inside). */
  dir: string;
  /** The page cache's bound, in KiB. */
  cacheKiB: number;
}

const encode = (key: string): Uint8Array => Buffer.from(key, 'utf16le').swap16();
const decode = (bytes: Uint8Array): string => Buffer.from(bytes).swap16().toString('utf16le');

type Row = { k: Uint8Array; json: string; off: number };

/** The open store of each database file in this process, so that a reopen closes the last one. */
const openStores = new Map<string, StoreRows>();
type Prev = { json: string; off: number } | undefined;

/** A view's rows in SQLite; see the module comment for the transactions and the undo log. */
export class StoreRows implements ViewRows {
  readonly external = true;
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #get: StatementSync;
  readonly #put: StatementSync;
  readonly #del: StatementSync;
  readonly #undo: StatementSync;
  readonly #from: StatementSync;
  readonly #after: StatementSync;
  #size = 0;
  /** The tag (checkpoint id) the open transaction started from. */
  #base = 0;
  #inTransaction = false;

  private constructor(file: string, cacheKiB: number) {
    this.file = file;
    const db = new DatabaseSync(file);
    this.#db = db;
    db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 16777216; PRAGMA cache_size = -${cacheKiB};
      CREATE TABLE IF NOT EXISTS rows (k BLOB PRIMARY KEY, json TEXT NOT NULL, off INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS undo (base INTEGER NOT NULL, k BLOB NOT NULL, json TEXT, off INTEGER,
        PRIMARY KEY (base, k)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY, size INTEGER NOT NULL);
      INSERT OR IGNORE INTO tags (id, size) VALUES (0, 0);`);
    this.#get = db.prepare('SELECT json, off FROM rows WHERE k = ?');
    this.#put = db.prepare(
      'INSERT INTO rows (k, json, off) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET json = excluded.json, off = excluded.off',
    );
    this.#del = db.prepare('DELETE FROM rows WHERE k = ?');
    this.#undo = db.prepare('INSERT OR IGNORE INTO undo (base, k, json, off) VALUES (?, ?, ?, ?)');
    this.#from = db.prepare('SELECT k, json, off FROM rows WHERE k >= ? ORDER BY k');
    this.#after = db.prepare('SELECT k, json, off FROM rows WHERE k > ? ORDER BY k');
    const tag = db.prepare('SELECT id, size FROM tags ORDER BY id DESC LIMIT 1').get() as {
      id: number;
      size: number;
    };
    this.#base = tag.id;
    this.#size = tag.size;
  }

  /**
   * Opens the store in `dir` at the state of checkpoint `restoreTo` (undoing the transactions of
   * later checkpoints a crash left in it), or empty when `restoreTo` is undefined (a job without
   * a checkpoint starts with an empty view: an older database is removed). Throws
   * CHECKPOINT_INCOMPATIBLE when the store cannot reach that state — it was deleted, or the
   * checkpoint is older than the undo kept.
   */
  static open(options: StoreOptions, restoreTo: number | undefined, view: string): StoreRows {
    mkdirSync(options.dir, { recursive: true });
    const file = join(options.dir, 'view.sqlite');
    // A job restarted in this process: the last one's store gives up its transaction and lock.
    openStores.get(file)?.dispose();
    if (restoreTo === undefined)
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    const rows = new StoreRows(file, options.cacheKiB);
    openStores.set(file, rows);
    if (restoreTo !== undefined && restoreTo !== rows.#base) {
      try {
        rows.#rollbackTo(restoreTo, view);
      } catch (error) {
        rows.dispose();
        throw error;
      }
    }
    return rows;
  }

  get size(): number {
    return this.#size;
  }

  /** The checkpoint id the store's committed state belongs to (0: none yet). */
  get tag(): number {
    return this.#base;
  }

  get(key: string): StoredRow | undefined {
    const r = this.#get.get(encode(key)) as { json: string; off: number } | undefined;
    return r && { json: r.json, offset: r.off };
  }

  set(key: string, json: string, offset: number): void {
    const k = encode(key);
    const prev = this.#remember(k);
    this.#put.run(k, json, offset);
    if (prev === undefined) this.#size++;
  }

  delete(key: string): boolean {
    const k = encode(key);
    const prev = this.#get.get(k) as Prev;
    if (prev === undefined) return false;
    this.#begin();
    this.#undo.run(this.#base, k, prev.json, prev.off);
    this.#del.run(k);
    this.#size--;
    return true;
  }

  /** Opens the transaction if needed and notes the value of `k` before this transaction. */
  #remember(k: Uint8Array): Prev {
    this.#begin();
    const prev = this.#get.get(k) as Prev;
    this.#undo.run(this.#base, k, prev?.json ?? null, prev?.off ?? null);
    return prev;
  }

  #begin(): void {
    if (this.#inTransaction) return;
    this.#db.exec('BEGIN');
    this.#inTransaction = true;
  }

  *from(from: string, exclusive: boolean): Iterable<readonly [string, string, number]> {
    const stmt = exclusive ? this.#after : this.#from;
    for (const r of stmt.iterate(encode(from)) as Iterable<Row>) yield [decode(r.k), r.json, r.off];
  }

  all(): Iterable<readonly [string, string, number]> {
    return this.from('', false);
  }

  replaceAll(rows: Iterable<readonly [string, string, number]>): void {
    this.#begin();
    for (const [key] of this.all()) this.#remember(encode(key));
    this.#db.exec('DELETE FROM rows');
    this.#size = 0;
    for (const [key, json, offset] of rows) this.set(key, json, offset);
  }

  /**
   * Commits what was written since the last commit durably, tagged as checkpoint `id`, and drops
   * the undo of tags older than the newest `UNDO_TAGS`. Called at the checkpoint, before the
   * checkpoint itself is written.
   */
  commit(id: number): void {
    this.#begin();
    const db = this.#db;
    db.prepare('INSERT OR REPLACE INTO tags (id, size) VALUES (?, ?)').run(id, this.#size);
    const oldest = db.prepare('SELECT id FROM tags ORDER BY id DESC LIMIT 1 OFFSET ?').get(UNDO_TAGS) as
      | { id: number }
      | undefined;
    if (oldest !== undefined) {
      db.prepare('DELETE FROM undo WHERE base < ?').run(oldest.id);
      db.prepare('DELETE FROM tags WHERE id < ?').run(oldest.id);
    }
    db.exec('COMMIT');
    this.#inTransaction = false;
    this.#base = id;
  }

  /** Undoes the committed transactions after tag `id`, newest first, and commits that. */
  #rollbackTo(id: number, view: string): void {
    const db = this.#db;
    const target = db.prepare('SELECT size FROM tags WHERE id = ?').get(id) as { size: number } | undefined;
    if (target === undefined || id > this.#base)
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `view '${view}': its store (${this.file}) is at checkpoint ${this.#base} and cannot return to checkpoint ${id}, which the job restores (${id > this.#base ? 'the store is behind it: it was removed or replaced' : `only the last ${UNDO_TAGS} checkpoints can be returned to`}); clear the job's checkpoints to start the view over`,
        { step: view },
      );
    this.#begin();
    const entries = db
      .prepare('SELECT base, k, json, off FROM undo WHERE base >= ? ORDER BY base DESC')
      .all(id) as { k: Uint8Array; json: string | null; off: number | null }[];
    for (const e of entries) {
      if (e.json === null) this.#del.run(e.k);
      else this.#put.run(e.k, e.json, e.off);
    }
    db.prepare('DELETE FROM undo WHERE base >= ?').run(id);
    db.prepare('DELETE FROM tags WHERE id > ?').run(id);
    db.exec('COMMIT');
    this.#inTransaction = false;
    this.#base = id;
    this.#size = target.size;
  }

  /** Rolls back what no checkpoint covers and closes the database. */
  dispose(): void {
    if (openStores.get(this.file) === this) openStores.delete(this.file);
    if (!this.#db.isOpen) return;
    if (this.#inTransaction) this.#db.exec('ROLLBACK');
    this.#inTransaction = false;
    this.#db.close();
  }
}
