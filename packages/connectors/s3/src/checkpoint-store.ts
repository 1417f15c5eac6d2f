/**
 * A checkpoint store in S3-compatible object storage, shared by the workers of a scaled-out
 * pipeline, with the same owner fence as the PostgreSQL store. Each store is one *slot*
 * (`pipeline` + `slot`, e.g. `orders` + `tasks/3`) under `<prefix><pipeline>/<slot>/`:
 *
 * - `head.json` — the slot's one mutable object: owner, epoch, whether it was released, a
 *   heartbeat the owner bumps to renew its lease, and the list of its checkpoints (newest first)
 *   and of those set aside. It is only ever replaced by a conditional PUT (`If-Match` its ETag, or
 *   `If-None-Match: *` when it does not exist yet), so every change is a compare-and-swap.
 * - `ckpt/<epoch>-<id>.ckpt` — a checkpoint's bytes, written once under a name no other owner
 *   uses. A checkpoint exists only once `head.json` lists it.
 *
 * The fence: `prepare` takes the slot by raising the epoch in `head.json`; a `write` puts its bytes
 * and then lists them in `head.json` with `If-Match` the ETag it last wrote. A zombie (a worker
 * that lost the slot but still runs) holds an old ETag, so its listing is refused (412) and its
 * write rejects with CHECKPOINT_LOCKED: its bytes are never read. No clock is shared: a waiting
 * worker takes a slot whose owner did not release it only after seeing `head.json` unchanged for
 * the owner's whole lease by its own clock (a live owner rewrites it every third of a lease).
 *
 * The server must honour conditional PUTs (AWS S3 since 2024, MinIO, R2, S3Proxy 4 on its nio2
 * providers); `prepare` says so clearly when it does not (HTTP 501).
 */

import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  type CheckpointSlot,
  type CheckpointStore,
  decodeCheckpoint,
  type LatestCheckpoint,
  type Logger,
  latestReadable,
  type SlotCheckpoint,
  SluiceError,
  type StoredRead,
  unreadableOf,
} from '@sluice/core';
import { createClient, describeError, statusOf } from './client-config.ts';

export interface S3CheckpointStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix of every pipeline's slots ('' or ending in `/`). */
  prefix?: string;
  pipeline: string;
  /** The slot within the pipeline: `tasks/<n>` for a worker's task, `''` for a whole job. */
  slot: string;
  /** Who takes the slot (a worker id); the same owner takes its own slot back at once. */
  owner: string;
  /** How many checkpoints to keep. */
  keep: number;
  /** How long an owner holds the slot without renewing it, ms (default 10 s). */
  leaseMs?: number;
  /** Aborting it makes a waiting `prepare` give up (CHECKPOINT_LOCKED). */
  signal?: AbortSignal;
  log?: Logger;
}

/** `head.json`: everything about a slot that changes, replaced whole by compare-and-swap. */
export interface SlotHead {
  readonly owner: string;
  readonly epoch: number;
  readonly released: boolean;
  /** Bumped by every renewal, so that the object (and its ETag) changes while the owner lives. */
  readonly beat: number;
  /** The owner's lease, ms: how long a waiting worker must see the head unchanged to take over. */
  readonly leaseMs: number;
  /** When the owner last wrote it, epoch ms by the owner's clock (shown, never compared). */
  readonly writtenAt: number;
  /** The slot's checkpoints, newest first: id and object key. */
  readonly checkpoints: readonly SlotEntry[];
  /** Checkpoints set aside as unreadable (kept for inspection, never read or pruned). */
  readonly aside: readonly SlotEntry[];
}

export interface SlotEntry {
  readonly id: number;
  readonly key: string;
}

const POLL_MS = 200;

/** The S3 checkpoint store of one slot; see the file comment. */
export class S3CheckpointStore implements CheckpointStore {
  readonly #o: S3CheckpointStoreOptions & { leaseMs: number; prefix: string };
  readonly #dir: string;
  /** The head this store last wrote (while it holds the slot) and its ETag. */
  #held: { head: SlotHead; etag: string } | undefined;
  #renew: NodeJS.Timeout | undefined;
  /** Head updates one at a time: a renewal never races a write of this same store. */
  #queue: Promise<unknown> = Promise.resolve();
  #fenced = false;

  constructor(options: S3CheckpointStoreOptions) {
    const prefix = options.prefix ?? '';
    if (prefix !== '' && !prefix.endsWith('/')) {
      throw new SluiceError('CONFIG_INVALID', `checkpoint store prefix '${prefix}' must end with '/'`);
    }
    this.#o = { ...options, prefix, leaseMs: options.leaseMs ?? 10_000 };
    this.#dir = `${prefix}${options.pipeline}/${options.slot === '' ? '' : `${options.slot}/`}`;
  }

  /** This store's slot, as named in messages. */
  get name(): string {
    return `${this.#o.pipeline}/${this.#o.slot}`;
  }

  /** The epoch this store holds the slot with (undefined before `prepare`). */
  get epoch(): number | undefined {
    return this.#held?.head.epoch;
  }

  async prepare(): Promise<void> {
    const { owner, leaseMs, signal } = this.#o;
    // The head as first seen unchanged, and since when (this process's monotonic clock).
    let watched: { etag: string; since: number } | undefined;
    let waitingFor: string | undefined;
    for (;;) {
      const current = await this.#readHead();
      const now = performance.now();
      if (current && watched?.etag !== current.etag) watched = { etag: current.etag, since: now };
      const free =
        current === undefined ||
        current.head.released ||
        current.head.owner === owner ||
        (watched !== undefined && now - watched.since >= current.head.leaseMs);
      if (free) {
        const head: SlotHead = {
          owner,
          epoch: (current?.head.epoch ?? 0) + 1,
          released: false,
          beat: 0,
          leaseMs,
          writtenAt: Date.now(),
          checkpoints: current?.head.checkpoints ?? [],
          aside: current?.head.aside ?? [],
        };
        const etag = await this.#swapHead(head, current?.etag);
        if (etag !== undefined) {
          this.#held = { head, etag };
          this.#o.log?.info('checkpoint slot taken', {
            slot: this.name,
            epoch: head.epoch,
            previous_owner: current?.head.owner || null,
            released: current?.head.released ?? true,
          });
          break;
        }
        continue; // another worker changed the head meanwhile: look again
      }
      if (current && waitingFor !== current.head.owner) {
        waitingFor = current.head.owner;
        this.#o.log?.info('checkpoint slot held by another worker; waiting for its release or lease', {
          slot: this.name,
          owner: current.head.owner,
        });
      }
      if (signal?.aborted)
        throw this.#locked(`gave up waiting for slot ${this.name} held by '${current?.head.owner}'`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    this.#renew = setInterval(() => void this.#renewLease(), Math.max(100, Math.floor(leaseMs / 3)));
    this.#renew.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#renew);
    this.#renew = undefined;
    if (this.#held === undefined || this.#fenced) {
      this.#held = undefined;
      return;
    }
    try {
      await this.#update((head) => ({ ...head, released: true }));
    } catch (err) {
      // Not released: the next owner waits for the lease instead. Nothing is lost.
      this.#o.log?.warn('checkpoint slot: could not release it; the next owner waits for the lease', {
        slot: this.name,
        error: err instanceof Error ? err.message : String(err),
      });
    } finally {
      this.#held = undefined;
    }
  }

  async write(id: number, bytes: Uint8Array): Promise<void> {
    const held = this.#mustHold();
    const key = `${this.#dir}ckpt/${held.head.epoch}-${id}.ckpt`;
    await this.#s3('could not store checkpoint', () =>
      this.#o.client.send(new PutObjectCommand({ Bucket: this.#o.bucket, Key: key, Body: bytes })),
    );
    let dropped: SlotEntry[] = [];
    try {
      await this.#update((head) => {
        // A lower id starts a new history: the higher ones go.
        const older = head.checkpoints.filter((c) => c.id < id);
        const kept = [{ id, key }, ...older].slice(0, this.#o.keep);
        dropped = head.checkpoints.filter((c) => !kept.includes(c) && c.key !== key);
        return { ...head, checkpoints: kept };
      }, 'could not store checkpoint');
    } catch (err) {
      // Fenced or failed: the bytes are listed nowhere, so nothing reads them.
      await this.#deleteQuietly([key]);
      throw err;
    }
    await this.#deleteQuietly(dropped.map((c) => c.key));
  }

  async latest(): Promise<LatestCheckpoint | undefined> {
    return latestReadable(this.name, (await this.#readHead())?.head.checkpoints ?? [], (e) =>
      this.#decode(e),
    );
  }

  async unreadable(): Promise<{ file: string; reason: string }[]> {
    return unreadableOf((await this.#readHead())?.head.checkpoints ?? [], (e) => this.#decode(e));
  }

  async setAside(file: string): Promise<string> {
    await this.#update((head) => {
      const entry = head.checkpoints.find((c) => this.#file(c) === file);
      if (entry === undefined) return head;
      return {
        ...head,
        checkpoints: head.checkpoints.filter((c) => c !== entry),
        aside: [entry, ...head.aside],
      };
    }, 'could not set a checkpoint aside');
    return `${file} (aside)`;
  }

  async list(): Promise<string[]> {
    return ((await this.#readHead())?.head.checkpoints ?? []).map((c) => this.#file(c));
  }

  async clear(): Promise<void> {
    let dropped: SlotEntry[] = [];
    await this.#update((head) => {
      dropped = [...head.checkpoints];
      return { ...head, checkpoints: [] };
    }, 'could not clear checkpoints');
    await this.#deleteQuietly(dropped.map((c) => c.key));
  }

  // Internals

  #file(entry: SlotEntry): string {
    return `s3://${this.#o.bucket}/${entry.key}`;
  }

  #mustHold(): { head: SlotHead; etag: string } {
    if (this.#held === undefined || this.#fenced)
      throw this.#locked(`slot ${this.name} is not held: prepare() first`);
    return this.#held;
  }

  /**
   * Replaces the held head with `change(head)` by compare-and-swap, one update at a time. Rejects
   * with CHECKPOINT_LOCKED when another owner took the slot since.
   */
  #update(change: (head: SlotHead) => SlotHead, what = 'checkpoint store'): Promise<void> {
    const run = async () => {
      const held = this.#mustHold();
      const head = { ...change(held.head), beat: held.head.beat + 1, writtenAt: Date.now() };
      const etag = await this.#swapHead(head, held.etag, what);
      if (etag === undefined) {
        const now = await this.#readHead();
        this.#fenced = true;
        throw this.#locked(
          `slot ${this.name} was taken over by '${now?.head.owner}' (epoch ${now?.head.epoch}, this worker held ` +
            `${held.head.epoch}); this worker no longer owns it and stops writing`,
        );
      }
      this.#held = { head, etag };
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #renewLease(): Promise<void> {
    if (this.#held === undefined || this.#fenced) return;
    try {
      await this.#update((head) => head);
    } catch (err) {
      if (err instanceof SluiceError && err.code === 'CHECKPOINT_LOCKED') {
        clearInterval(this.#renew);
        this.#o.log?.warn('checkpoint slot taken over by another worker', { slot: this.name });
        return;
      }
      this.#o.log?.warn('checkpoint slot: lease renewal failed; retrying', {
        slot: this.name,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** `head.json` and its ETag; undefined when the slot was never taken. */
  async #readHead(): Promise<{ head: SlotHead; etag: string } | undefined> {
    const key = `${this.#dir}head.json`;
    let out: { body: string; etag: string } | undefined;
    try {
      out = await this.#s3('could not read the slot', async () => {
        const r = await this.#o.client.send(new GetObjectCommand({ Bucket: this.#o.bucket, Key: key }));
        return { body: (await r.Body?.transformToString('utf8')) ?? '', etag: r.ETag ?? '' };
      });
    } catch (err) {
      if (err instanceof SluiceError && statusOf(err.cause) === 404) return undefined;
      throw err;
    }
    let head: unknown;
    try {
      head = JSON.parse(out.body);
    } catch (err) {
      throw new SluiceError(
        'CHECKPOINT_CORRUPT',
        `s3://${this.#o.bucket}/${key} is not JSON: ${String(err)}`,
      );
    }
    if (!isSlotHead(head)) {
      throw new SluiceError('CHECKPOINT_CORRUPT', `s3://${this.#o.bucket}/${key} is not a slot head`);
    }
    return { head, etag: out.etag };
  }

  /** Writes `head` if the stored head still has `etag` (absent: if there is none); its new ETag, or undefined on a conflict. */
  async #swapHead(
    head: SlotHead,
    etag: string | undefined,
    what = 'could not take the slot',
  ): Promise<string | undefined> {
    try {
      const r = await this.#o.client.send(
        new PutObjectCommand({
          Bucket: this.#o.bucket,
          Key: `${this.#dir}head.json`,
          Body: JSON.stringify(head),
          ContentType: 'application/json',
          ...(etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: etag }),
        }),
      );
      return r.ETag ?? '';
    } catch (err) {
      const status = statusOf(err);
      // 412: the condition failed; 409: a concurrent conditional write won (AWS asks to re-read).
      if (status === 412 || status === 409) return undefined;
      if (status === 501) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `checkpoint store s3://${this.#o.bucket}/${this.#dir}: the server does not support conditional ` +
            `PUTs (If-Match / If-None-Match), which the owner fence needs: ${describeError(err)}`,
          { cause: err },
        );
      }
      throw ioError(`${what} ${this.name}`, err);
    }
  }

  async #decode(entry: SlotEntry): Promise<StoredRead> {
    const file = this.#file(entry);
    let bytes: Uint8Array;
    try {
      bytes = await this.#s3(`could not read checkpoint ${file}`, async () => {
        const r = await this.#o.client.send(new GetObjectCommand({ Bucket: this.#o.bucket, Key: entry.key }));
        return (await r.Body?.transformToByteArray()) ?? new Uint8Array();
      });
    } catch (err) {
      if (err instanceof SluiceError && statusOf(err.cause) === 404)
        return { file, reason: 'its object is missing' };
      throw err;
    }
    try {
      const data = decodeCheckpoint(bytes, file);
      if (data.id !== entry.id)
        return { file, reason: `holds checkpoint ${data.id}, but the slot lists ${entry.id}` };
      return { data, file };
    } catch (err) {
      if (err instanceof SluiceError && err.code === 'CHECKPOINT_CORRUPT')
        return { file, reason: err.message };
      throw err;
    }
  }

  async #deleteQuietly(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      await this.#o.client.send(
        new DeleteObjectsCommand({
          Bucket: this.#o.bucket,
          Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
        }),
      );
    } catch (err) {
      // Unlisted objects are never read; a later prune or `sweep` takes them.
      this.#o.log?.warn('checkpoint store: could not delete pruned checkpoints', {
        slot: this.name,
        error: describeError(err),
      });
    }
  }

  async #s3<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw ioError(`${what} (${this.name})`, err);
    }
  }

  #locked(message: string): SluiceError {
    return new SluiceError('CHECKPOINT_LOCKED', message);
  }
}

/** Every slot of `pipeline` under `prefix` that has a head, by slot name (for `sluice status`). */
export async function listSlots(
  client: S3Client,
  bucket: string,
  prefix: string,
  pipeline: string,
): Promise<string[]> {
  const base = `${prefix}${pipeline}/`;
  const slots: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: base, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      if (o.Key?.endsWith('/head.json')) slots.push(o.Key.slice(base.length, -'/head.json'.length));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return slots.sort();
}

function isSlotHead(v: unknown): v is SlotHead {
  if (typeof v !== 'object' || v === null) return false;
  const h = v as Record<string, unknown>;
  const entries = (x: unknown) =>
    Array.isArray(x) &&
    x.every(
      (e) =>
        typeof e === 'object' &&
        e !== null &&
        typeof (e as SlotEntry).id === 'number' &&
        typeof (e as SlotEntry).key === 'string',
    );
  return (
    typeof h.owner === 'string' &&
    typeof h.epoch === 'number' &&
    typeof h.released === 'boolean' &&
    typeof h.beat === 'number' &&
    typeof h.leaseMs === 'number' &&
    entries(h.checkpoints) &&
    entries(h.aside)
  );
}

function ioError(what: string, err: unknown): SluiceError {
  return new SluiceError('IO_ERROR', `${what}: ${describeError(err)}`, { cause: err });
}

/** Where a `--checkpoint-store s3://…` URL points, and the client that reaches it. */
export interface S3StoreLocation {
  readonly client: S3Client;
  readonly bucket: string;
  /** '' or ending in `/`. */
  readonly prefix: string;
}

/**
 * Reads `s3://bucket/prefix/?endpoint=http://127.0.0.1:9000&region=us-east-1&force_path_style=true`
 * (every query parameter optional: AWS S3 in us-east-1 by default). Credentials come from the AWS
 * SDK's default chain (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, shared config files, an
 * instance role), never from the URL, which is logged. CONFIG_INVALID when it is not such a URL.
 */
export function s3StoreLocation(url: string): S3StoreLocation {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SluiceError('CONFIG_INVALID', `checkpoint store '${url}' is not a URL (s3://bucket/prefix/)`);
  }
  if (u.protocol !== 's3:' || u.hostname === '') {
    throw new SluiceError('CONFIG_INVALID', `checkpoint store '${url}': expected s3://bucket/prefix/`);
  }
  if (u.username !== '' || u.password !== '') {
    throw new SluiceError(
      'CONFIG_INVALID',
      'checkpoint store s3://…: credentials do not go in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    );
  }
  const known = new Set(['endpoint', 'region', 'force_path_style']);
  for (const key of u.searchParams.keys()) {
    if (!known.has(key)) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `checkpoint store s3://…: unknown parameter '${key}' (known: ${[...known].join(', ')})`,
      );
    }
  }
  const path = decodeURIComponent(u.pathname.replace(/^\//, ''));
  const prefix = path === '' || path.endsWith('/') ? path : `${path}/`;
  const endpoint = u.searchParams.get('endpoint') ?? undefined;
  const client = createClient({
    region: u.searchParams.get('region') ?? 'us-east-1',
    ...(endpoint === undefined ? {} : { endpoint }),
    force_path_style: u.searchParams.get('force_path_style') === 'true',
  });
  return { client, bucket: u.hostname, prefix };
}

/**
 * Every slot of `pipeline` in the store at `location`, with its head and newest checkpoint, for
 * `sluice status`; reads only. S3 has no clock to ask, so a lease is judged by this machine's
 * clock against when the server last wrote the head: `held` is an estimate, exact only up to the
 * clocks' difference. IO_ERROR when the store cannot be read.
 */
export async function readS3CheckpointSlots(
  location: S3StoreLocation,
  pipeline: string,
): Promise<{ slots: CheckpointSlot[]; now: number }> {
  const { client, bucket, prefix } = location;
  const where = `s3://${bucket}/${prefix}${pipeline}/`;
  try {
    const now = Date.now();
    const slots: CheckpointSlot[] = [];
    for (const slot of await listSlots(client, bucket, prefix, pipeline)) {
      const dir = `${prefix}${pipeline}/${slot}/`;
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${dir}head.json` }));
      const head: unknown = JSON.parse((await got.Body?.transformToString('utf8')) ?? '');
      if (!isSlotHead(head)) continue;
      const leaseUntil = (got.LastModified?.getTime() ?? 0) + head.leaseMs;
      const newest = head.checkpoints[0];
      let checkpoint: SlotCheckpoint | undefined;
      if (newest !== undefined) {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: newest.key }));
        const bytes = (await r.Body?.transformToByteArray()) ?? new Uint8Array();
        const base = { id: newest.id, writtenAt: r.LastModified?.getTime() ?? 0, bytes: bytes.byteLength };
        try {
          const data = decodeCheckpoint(bytes, `s3://${bucket}/${newest.key}`);
          checkpoint = {
            ...base,
            createdAt: data.createdAt,
            sources: data.sources,
            restarts: data.counters?.['job:restarts'] ?? 0,
          };
        } catch (err) {
          if (!(err instanceof SluiceError)) throw err;
          checkpoint = { ...base, createdAt: undefined, sources: undefined, unreadable: err.message };
        }
      }
      slots.push({
        slot,
        owner: head.owner,
        epoch: head.epoch,
        released: head.released,
        leaseUntil,
        held: !head.released && leaseUntil > now,
        checkpoint,
      });
    }
    slots.sort((a, b) => a.slot.localeCompare(b.slot, 'en', { numeric: true }));
    return { slots, now };
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw ioError(`checkpoint store ${where}`, err);
  }
}
