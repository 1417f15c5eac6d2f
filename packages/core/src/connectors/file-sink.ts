/**
 * The `file` sink: JSON lines or CSV into local files, exactly once with checkpoints (the Flink
 * FileSink model: hidden in-progress parts, published by rename when a checkpoint completes).
 */

import { type FileHandle, open, readdir, rename, stat, truncate, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Sink, SinkBatch, SinkContext, SinkRejection } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { defineSink } from '../spec.ts';
import { parseDuration } from '../time.ts';
import {
  type ChangelogOptions,
  changelogEntries,
  changelogSinkSupport,
  checkChangelogOptions,
  encodeEntry,
  rejectEntry,
} from './changelog-format.ts';
import { ensureDir, unusableFolder } from './ensure-dir.ts';
import { checkState, type FileSinkConfig, type FileSinkState, fileSinkConfig } from './file-sink-config.ts';
import { exists, finalizePart, PartNames, syncDir } from './file-sink-parts.ts';
import { createEncoder, type RecordEncoder } from './format-encode.ts';

/** Folder beside the parts where parts published by a lost checkpoint are moved. */
const QUARANTINE_DIR = '.quarantine';

/** Buffered text is written to the file once it passes this many characters. */
const FLUSH_CHARS = 1 << 20;

interface Part {
  readonly name: string;
  readonly fh: FileHandle;
  /** Bytes written to the file (buffered text not included). */
  length: number;
  /** Bytes of the part, buffered text included. */
  bytes: number;
  records: number;
  readonly openedAt: number;
}

class FileSink implements Sink {
  readonly #config: FileSinkConfig;
  readonly #maxBytes: number;
  readonly #intervalMs: number;
  #ctx: SinkContext | undefined;
  #names: PartNames | undefined;
  #encoder: RecordEncoder;
  /** The changelog format; absent: records are written as they are (inserts only). */
  readonly #changelog: ChangelogOptions | undefined;
  #part: Part | null = null;
  #buffer: string[] = [];
  #bufferedChars = 0;
  /** Parts finished since the last `prepareCommit`. */
  #finished: string[] = [];
  /** Parts finished before each prepared checkpoint, published by its `commit`. */
  readonly #prepared = new Map<number, string[]>();
  #nextSeq = 0;
  #opened = false;
  #dirDirty = false;
  #closed = false;
  #aborted = false;

  constructor(config: FileSinkConfig) {
    this.#config = config;
    this.#maxBytes = config.roll?.max_bytes ?? Number.POSITIVE_INFINITY;
    this.#intervalMs =
      config.roll?.interval === undefined
        ? Number.POSITIVE_INFINITY
        : parseDuration(config.roll.interval, 'roll.interval');
    this.#encoder = createEncoder(config);
    checkChangelogOptions(config);
    this.#changelog = config.changelog === undefined ? undefined : config;
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#ctx = ctx;
    const names = new PartNames(resolve(ctx.baseDir, this.#config.path), this.#config.roll !== undefined);
    this.#names = names;
    await ensureDir(names.dir, { path: 'path', step: ctx.id });
    await this.#io('prepare the output folder of', names.dir, async () => {
      const files = await readdir(names.dir);
      const state =
        ctx.restored === undefined || ctx.restored === null ? undefined : checkState(ctx.restored, ctx.id);
      if (state === undefined) {
        await this.#startFresh(files);
      } else if (state.target !== undefined && state.target !== names.path(names.target)) {
        await this.#finishElsewhere(state);
        await this.#startFresh(files);
      } else {
        await this.#restore(state, files);
      }
      await syncDir(names.dir);
    });
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const { records, texts, kinds } = batch;
    let rejections: SinkRejection[] | undefined;
    if (this.#dueByTime()) await this.#roll();
    const encoder = this.#encoder;
    const sized = this.#maxBytes !== Number.POSITIVE_INFINITY;
    const entries =
      this.#changelog === undefined ? undefined : changelogEntries(this.#changelog, records, kinds, texts);
    const n = entries === undefined ? records.length : entries.length;
    for (let i = 0; i < n; i++) {
      let line: string;
      try {
        line =
          entries === undefined
            ? encoder.encode(records[i], texts?.[i])
            : encodeEntry((row, text) => encoder.encode(row, text), entries[i]);
      } catch (err) {
        rejections ??= [];
        if (entries === undefined) rejections.push({ index: i, message: (err as Error).message });
        else rejectEntry(rejections, entries[i], (err as Error).message);
        continue;
      }
      if (this.#part === null) await this.#openPart();
      let part = this.#part!;
      if (sized) {
        const bytes = Buffer.byteLength(line);
        if (part.records > 0 && part.bytes + bytes > this.#maxBytes) {
          await this.#roll();
          await this.#openPart();
          part = this.#part!;
        }
        part.bytes += bytes;
      }
      part.records++;
      this.#buffer.push(line);
      this.#bufferedChars += line.length;
      if (this.#bufferedChars >= FLUSH_CHARS) await this.#flush();
    }
    return rejections;
  }

  async prepareCommit(checkpointId: number): Promise<FileSinkState> {
    if (this.#dueByTime()) await this.#roll();
    await this.#flush();
    const part = this.#part;
    if (part !== null) await this.#io('sync', part.name, () => part.fh.datasync());
    if (this.#dirDirty) {
      this.#dirDirty = false;
      await syncDir(this.#names!.dir);
    }
    if (this.#finished.length > 0) {
      this.#prepared.set(checkpointId, this.#finished);
      this.#finished = [];
    }
    const state: FileSinkState = {
      target: this.#names!.path(this.#names!.target),
      inProgress: part === null ? null : { path: part.name, length: part.length },
      pending: [...this.#prepared.values()].flat(),
      nextSeq: this.#nextSeq,
    };
    const columns = this.#encoder.columns;
    if (columns !== undefined) state.columns = [...columns];
    return state;
  }

  async commit(checkpointId: number): Promise<void> {
    const publish: string[] = [];
    for (const [id, parts] of this.#prepared) {
      if (id > checkpointId) continue;
      publish.push(...parts);
      this.#prepared.delete(id);
    }
    await this.#publish(publish);
  }

  async close(): Promise<void> {
    if (this.#closed || this.#names === undefined) return;
    this.#closed = true;
    if (this.#part === null && !this.#names.rolling && !this.#opened && this.#prepared.size === 0) {
      await this.#openPart();
    }
    await this.#roll();
    const publish = [...this.#prepared.values()].flat();
    this.#prepared.clear();
    publish.push(...this.#finished);
    this.#finished = [];
    await this.#publish(publish);
  }

  /**
   * Publishes nothing: the in-progress part and the parts finished or prepared since the last
   * completed checkpoint keep their hidden names. The next `open` publishes the parts of a
   * durable checkpoint, cuts the in-progress part back to its checkpointed length and deletes
   * the rest, so the replay writes those records exactly once.
   */
  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#aborted = true;
    const part = this.#part;
    this.#part = null;
    this.#buffer = [];
    this.#bufferedChars = 0;
    if (part !== null) await part.fh.close().catch(() => {});
    const pending = this.#finished.length + [...this.#prepared.values()].reduce((n, p) => n + p.length, 0);
    if (part !== null || pending > 0) {
      this.#ctx?.log.info('the job failed: output after the last checkpoint stays unpublished', {
        sink: this.#ctx.id,
        in_progress: part?.name ?? null,
        unpublished_parts: pending,
      });
    }
  }

  #dueByTime(): boolean {
    const part = this.#part;
    return part !== null && part.records > 0 && this.#ctx!.clock.now() - part.openedAt >= this.#intervalMs;
  }

  async #openPart(): Promise<void> {
    if (this.#aborted)
      throw new SluiceError('SINK_UNAVAILABLE', 'the file sink was aborted', { step: this.#ctx?.id });
    const names = this.#names!;
    const now = this.#ctx!.clock.now();
    const name = names.part(this.#nextSeq, now);
    if (names.rolling) this.#nextSeq++;
    const fh = await this.#io('create', names.hidden(name), async () => {
      try {
        return await open(names.path(names.hidden(name)), 'w');
      } catch (err) {
        throw unusableFolder(err, names.dir, { path: 'path', step: this.#ctx!.id }) ?? err;
      }
    });
    const header = this.#encoder.header();
    this.#part = { name, fh, length: 0, bytes: Buffer.byteLength(header), records: 0, openedAt: now };
    this.#opened = true;
    this.#dirDirty = true;
    if (header !== '') {
      this.#buffer.push(header);
      this.#bufferedChars += header.length;
    }
  }

  /** Writes the buffered text to the current part. */
  async #flush(): Promise<void> {
    const part = this.#part;
    if (part === null || this.#buffer.length === 0) return;
    const data = Buffer.from(this.#buffer.join(''));
    this.#buffer = [];
    this.#bufferedChars = 0;
    await this.#io('write', part.name, async () => {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await part.fh.write(data, done, data.length - done, part.length + done);
        done += bytesWritten;
      }
    });
    part.length += data.length;
  }

  /** Finishes the current part: flushed, synced, closed, and queued for publishing. */
  async #roll(): Promise<void> {
    const part = this.#part;
    if (part === null) return;
    await this.#flush();
    await this.#io('sync', part.name, async () => {
      await part.fh.datasync();
      await part.fh.close();
    });
    this.#part = null;
    this.#finished.push(part.name);
  }

  async #publish(parts: string[]): Promise<void> {
    if (parts.length === 0) return;
    const names = this.#names!;
    for (const name of parts) {
      const found = await this.#io('publish', name, () => finalizePart(names, name));
      if (!found)
        this.#ctx!.log.error('a finished part is missing; its records are lost', { part: names.path(name) });
    }
    await this.#io('sync the folder of', names.dir, () => syncDir(names.dir));
  }

  async #startFresh(files: string[]): Promise<void> {
    const names = this.#names!;
    for (const file of files) {
      if (names.isHidden(file)) {
        this.#ctx!.log.info('removing an in-progress file of an earlier run', { file: names.path(file) });
        await unlink(names.path(file));
      }
      const seq = names.seqOf(file);
      if (seq !== undefined && seq >= this.#nextSeq) this.#nextSeq = seq + 1;
    }
  }

  async #restore(state: FileSinkState, files: string[]): Promise<void> {
    const names = this.#names!;
    const log = this.#ctx!.log;
    this.#nextSeq = state.nextSeq;
    if (state.columns !== undefined) this.#encoder = createEncoder(this.#config, state.columns);
    for (const name of state.pending) {
      if (!(await finalizePart(names, name)))
        log.error('a finished part is missing; its records are lost', { part: name });
    }
    await this.#setAsideLater(state, files);
    const keep = new Set(state.pending.map((name) => names.hidden(name)));
    if (state.inProgress !== null) keep.add(names.hidden(state.inProgress.path));
    for (const file of files) {
      if (!names.isHidden(file) || keep.has(file)) continue;
      log.info('removing an in-progress file written after the checkpoint', { file: names.path(file) });
      await unlink(names.path(file)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    if (state.inProgress !== null) await this.#reopen(state.inProgress.path, state.inProgress.length);
  }

  /**
   * Moves aside the published parts numbered from the checkpoint's `nextSeq` on: parts opened
   * after the restored checkpoint, which only a later checkpoint (lost since: unreadable, so an
   * older one is restored) can have published. Their records are replayed into new parts, so
   * leaving them would write those records twice. They go to the `.quarantine` folder beside
   * the parts, kept for inspection.
   */
  async #setAsideLater(state: FileSinkState, files: string[], names = this.#names!): Promise<void> {
    const later = files.filter(
      (file) => (names.seqOf(file) ?? -1) >= state.nextSeq && !state.pending.includes(file),
    );
    if (later.length === 0) return;
    const aside = names.path(QUARANTINE_DIR);
    await ensureDir(aside, { path: 'path', step: this.#ctx!.id });
    for (const file of later.sort()) {
      let target = join(aside, file);
      for (let n = 1; await exists(target); n++) target = join(aside, `${file}.${n}`);
      await rename(names.path(file), target);
      this.#ctx!.log.warn(
        'moved aside a part published after the restored checkpoint; the replay writes its records again',
        {
          sink: this.#ctx!.id,
          part: names.path(file),
          to: target,
        },
      );
    }
    await syncDir(aside);
  }

  /**
   * The configured path changed since the checkpoint: finishes the checkpointed output at the
   * old path — publishes its pending parts and its in-progress part cut to the checkpointed
   * length, deletes later in-progress files, moves aside parts a lost checkpoint published — so
   * the records up to the checkpoint stay there and the replay writes the rest to the new path.
   */
  async #finishElsewhere(state: FileSinkState): Promise<void> {
    const log = this.#ctx!.log;
    const old = new PartNames(state.target!, this.#names!.rolling);
    let files: string[];
    try {
      files = await readdir(old.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      log.error('the checkpointed output folder is gone; its unpublished records are lost', {
        folder: old.dir,
      });
      return;
    }
    await this.#setAsideLater(state, files, old);
    for (const name of state.pending) {
      if (!(await finalizePart(old, name)))
        log.error('a finished part is missing; its records are lost', { part: old.path(name) });
    }
    const part = state.inProgress;
    if (part !== null) {
      const hidden = old.path(old.hidden(part.path));
      const final = old.path(part.path);
      const at = (await exists(hidden)) ? hidden : (await exists(final)) ? final : undefined;
      if (at === undefined) {
        log.error('the checkpointed in-progress part is missing; its records are lost', { part: hidden });
      } else {
        const { size } = await stat(at);
        if (size < part.length)
          log.error('the in-progress part is shorter than checkpointed; records are lost', { part: at });
        if (size > part.length) await truncate(at, part.length);
        if (at === hidden) await rename(hidden, final);
      }
    }
    const keep = new Set(state.pending.map((name) => old.hidden(name)));
    for (const file of files) {
      if (old.isHidden(file) && !keep.has(file) && file !== old.hidden(part?.path ?? '')) {
        await unlink(old.path(file)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
      }
    }
    await syncDir(old.dir);
    log.warn(
      "the sink's path changed since the checkpoint: its output up to the checkpoint stays at the old path",
      {
        sink: this.#ctx!.id,
        from: state.target,
        to: this.#names!.path(this.#names!.target),
      },
    );
  }

  /** Reopens the checkpointed in-progress part, cut back to its checkpointed length. */
  async #reopen(name: string, length: number): Promise<void> {
    const names = this.#names!;
    const log = this.#ctx!.log;
    const hidden = names.path(names.hidden(name));
    if (!(await exists(hidden))) {
      const published = names.path(name);
      if (!(await exists(published))) {
        log.error('the checkpointed in-progress part is missing; its records are lost', { part: hidden });
        return;
      }
      // A graceful stop takes its checkpoint, then closes the sink, which publishes the part whole.
      const whole = (await stat(published)).size === length;
      if (whole && names.rolling) {
        log.info('the part published when the job stopped stays final; writing a new part', {
          part: published,
        });
        return;
      }
      if (whole) log.info('continuing the file published when the job stopped', { part: published });
      else
        log.warn('the checkpointed part was published after the checkpoint; taking it back to cut it', {
          part: published,
        });
      await rename(published, hidden);
    }
    const fh = await open(hidden, 'r+');
    const { size } = await fh.stat();
    if (size < length)
      log.error('the in-progress part is shorter than checkpointed; records are lost', { part: hidden });
    const kept = Math.min(size, length);
    await fh.truncate(kept);
    await fh.datasync();
    const now = this.#ctx!.clock.now();
    this.#part = { name, fh, length: kept, bytes: kept, records: kept > 0 ? 1 : 0, openedAt: now };
    this.#opened = true;
  }

  async #io<T>(action: string, what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof SluiceError) throw err;
      throw new SluiceError('IO_ERROR', `cannot ${action} '${what}': ${(err as Error).message}`, {
        step: this.#ctx?.id,
        cause: err,
      });
    }
  }
}

/** The `file` sink spec. */
export const fileSink = defineSink({
  type: 'file',
  summary: 'Writes JSON lines or CSV to local files, exactly once with checkpoints.',
  delivery: 'exactly-once',
  changelog: changelogSinkSupport,
  description: [
    'Records are appended to a hidden in-progress part, `.<name>.inprogress`, beside its final',
    'name; a part becomes visible under its final name by an atomic rename. At a checkpoint the',
    'sink flushes and syncs the part and records its length; parts finished (rolled) before the',
    'checkpoint are published when it completes. After a crash the in-progress part is cut back to',
    'the checkpointed length (the records after it are replayed), finished parts of the checkpoint',
    'are published, and in-progress files written after it are deleted: every record lands exactly',
    'once. At the end of input everything is flushed and published; a job without checkpoints',
    'still produces its files then, but parts finished before the end stay hidden until then.',
    '',
    'Without `roll` the output is one file named exactly `path`, published at the end of input (an',
    'existing file of that name is replaced then; an input with no record gives an empty file).',
    'With `roll`, parts are named `<stem>-<yyyyMMddHHmmss>-<seq><ext>` (e.g.',
    '`results-20260101120000-000000.jsonl`): the UTC time the part was opened and a sequence',
    'number that continues across restarts. A fresh start (no checkpoint) deletes stale in-progress',
    'files of this path and numbers its parts after the highest existing one.',
    '',
    'A job stopped gracefully (SIGINT, SIGTERM) publishes its in-progress part. When it restarts, a',
    'rolled part stays as published and a new one is started; the one file of a sink without `roll`',
    'is taken back under its in-progress name and continued. A job that fails (another sink fails,',
    'a source stops) publishes nothing its last completed checkpoint does not cover: the restart',
    'replays those records into the same hidden parts. Restored from an older checkpoint because',
    'the newer ones are unreadable, the sink moves the parts those published (numbered from the',
    "restored checkpoint's next part on) into `.quarantine/` beside the parts and logs each. When",
    '`path` changed since the checkpoint, the output up to it is published at the old path and the',
    'rest goes to the new one.',
    '',
    'CSV output starts every part with a header row made of the fields of the first record; a',
    'record with a field outside it goes to the dead-letter output.',
  ].join('\n'),
  config: fileSinkConfig,
  example: [
    'type: file',
    'path: ./out/results.jsonl',
    'format: json',
    'roll:',
    '  max_bytes: 134217728',
    '  interval: 15m',
  ].join('\n'),
  create: (config) => new FileSink(config),
});
