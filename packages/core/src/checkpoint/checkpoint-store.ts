/**
 * Where checkpoints are kept. The runtime encodes a checkpoint synchronously at a batch boundary
 * (`encodeCheckpoint`) and hands the bytes to a store, which writes them asynchronously.
 */

import { SluiceError } from '../errors.ts';
import type { CheckpointData } from './checkpoint-format.ts';

/** The newest checkpoint that could be read, and the newer ones that could not. */
export interface LatestCheckpoint {
  data: CheckpointData;
  /** The file (or object name) it was read from. */
  file: string;
  /** Newer checkpoints skipped as corrupt, newest first, each with the reason. */
  skipped: { file: string; reason: string }[];
}

/** A durable home for encoded checkpoints. One writer at a time, which the store enforces. */
export interface CheckpointStore {
  /**
   * Makes the store ready to write (creates its folder) and takes its writer lock, so that a job
   * fails at its start rather than at its first checkpoint. Rejects with PATH_UNUSABLE when the
   * folder cannot be created, CHECKPOINT_LOCKED when another running job holds the store.
   */
  prepare(): Promise<void>;
  /** Gives up the writer lock taken by `prepare` (nothing when none was taken). */
  close(): Promise<void>;
  /**
   * Durably stores an encoded checkpoint, then prunes to the newest `keep`. Resolves only once the
   * checkpoint survives a crash or power loss; only then may sources commit upstream. Ids increase
   * within one history of a job; writing an id lower than ones already stored starts a new history
   * and removes the higher ones, so the checkpoint just written is the one `latest()` returns.
   * Rejects with IO_ERROR when the checkpoint could not be stored.
   */
  write(id: number, bytes: Uint8Array): Promise<void>;
  /**
   * The newest checkpoint that decodes, plus the newer ones skipped as corrupt (newest first).
   * Resolves undefined when none is stored. Rejects with CHECKPOINT_CORRUPT, naming each file
   * and why, when checkpoints are stored but none decodes: starting over silently would lose
   * their state. Rejects with IO_ERROR when a file exists but cannot be read (permissions, I/O
   * failure): falling back silently would lose state that may be intact.
   */
  latest(): Promise<LatestCheckpoint | undefined>;
  /** Every stored checkpoint that does not decode, newest first, with the reason. */
  unreadable(): Promise<{ file: string; reason: string }[]>;
  /**
   * Moves an unreadable checkpoint (from `latest().skipped` or `unreadable()`) out of the way,
   * keeping it for inspection where neither `latest`, pruning nor `clear` touch it; resolves
   * with where it went. Rejects with IO_ERROR when it cannot be moved.
   */
  setAside(file: string): Promise<string>;
  /** Stored checkpoint files, newest first. */
  list(): Promise<string[]>;
  /** Removes every stored checkpoint (and leftover temporary file). */
  clear(): Promise<void>;
}

/*
 * Shared stores (the workers' PostgreSQL and S3 stores) as `sluice status` reads them: their slots
 * with owner, lease and newest checkpoint, read without taking any.
 */

/** The newest readable (not set aside) checkpoint of a slot. */
export interface SlotCheckpoint {
  readonly id: number;
  /** When the store wrote it, epoch ms (the database's clock). */
  readonly writtenAt: number;
  /** Its size as stored, in bytes: the state, positions and pending sink state that move with the slot. */
  readonly bytes: number;
  /** When the job took it, epoch ms (the worker's clock); undefined when it cannot be read. */
  readonly createdAt: number | undefined;
  /** The position of every source partition, by source id then reader partition; undefined when unreadable. */
  readonly sources: { readonly [sourceId: string]: { readonly [partition: string]: unknown } } | undefined;
  /** Times the slot's job was restarted after a transient failure, as of this checkpoint (`JobMetrics.restarts`). */
  readonly restarts?: number;
  /** Why it cannot be read (CHECKPOINT_CORRUPT), when it cannot. */
  readonly unreadable?: string;
}

/** One slot of a pipeline (`tasks/<n>` for a worker's task) as the store has it. */
export interface CheckpointSlot {
  readonly slot: string;
  /** Who took it last (a worker id); '' when nobody ever took it. */
  readonly owner: string;
  /** Raised by every take-over; 0 when nobody ever took it. */
  readonly epoch: number;
  /** Its last owner let it go (a graceful stop or hand-off). */
  readonly released: boolean;
  /** Until when the owner's lease runs, epoch ms (the database's clock). */
  readonly leaseUntil: number;
  /** Held now: not released and the lease not run out (by the database's clock). */
  readonly held: boolean;
  /** Its newest checkpoint; undefined when it has none. */
  readonly checkpoint: SlotCheckpoint | undefined;
}

/** One stored checkpoint as a store read it: decoded, or why it could not be. */
export type StoredRead = { data: CheckpointData; file: string } | { file: string; reason: string };

/**
 * `latest()` of a store whose checkpoints are `entries`, newest first, each read by `read`: the
 * first that decodes, with the newer ones skipped; CHECKPOINT_CORRUPT naming each when none does.
 */
export async function latestReadable<E>(
  name: string,
  entries: Iterable<E>,
  read: (entry: E) => Promise<StoredRead>,
): Promise<LatestCheckpoint | undefined> {
  const skipped: { file: string; reason: string }[] = [];
  for (const entry of entries) {
    const got = await read(entry);
    if ('data' in got) return { data: got.data, file: got.file, skipped };
    skipped.push(got);
  }
  if (skipped.length > 0) {
    throw new SluiceError(
      'CHECKPOINT_CORRUPT',
      `no checkpoint of ${name} can be read: ${skipped.map((s) => `${s.file}: ${s.reason}`).join('; ')}`,
    );
  }
  return undefined;
}

/** `unreadable()` of a store whose checkpoints are `entries`, each read by `read`. */
export async function unreadableOf<E>(
  entries: Iterable<E>,
  read: (entry: E) => Promise<StoredRead>,
): Promise<{ file: string; reason: string }[]> {
  const out: { file: string; reason: string }[] = [];
  for (const entry of entries) {
    const got = await read(entry);
    if (!('data' in got)) out.push(got);
  }
  return out;
}
