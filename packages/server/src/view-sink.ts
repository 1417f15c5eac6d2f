/**
 * `view` sink: keeps the latest row per key of its input in memory, for `serve` to answer point
 * lookups, scans and change subscriptions (`/api/views/<name>`).
 *
 * An append stream upserts each record by its `key`; an updating stream (an aggregate's results)
 * upserts update-afters and inserts and deletes deletes and update-befores by that key, which the
 * plan check requires to cover the stream's unique key. The rows, the offset and the newest
 * `checkpoint_changes` changes are the sink's checkpoint state (`prepareCommit`), so a restarted
 * job serves the view as of its checkpoint and replays the rest: offsets and rows are a function
 * of the input, not of restarts, and a subscriber resumes across the restart.
 */

import {
  CHANGELOG_MODES,
  DELETE,
  defineSink,
  type Sink,
  type SinkBatch,
  type SinkContext,
  type SinkRejection,
  SluiceError,
  type Static,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '@sluice/core';
import Type from 'typebox';
import { StoreRows } from './view-store.ts';
import { keyText, type ViewSnapshot, type ViewStoreSnapshot, ViewTable } from './view-table.ts';
import { registerView } from './views.ts';

export const viewSinkConfig = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]+$',
        description: 'The name the view is served under (`/api/views/<name>`). Default: the sink id.',
        examples: ['totals'],
      }),
    ),
    key: Type.Optional(
      Type.Array(Type.String(), {
        minItems: 1,
        description:
          'The fields that identify a row: the latest row per value of these is kept. Default: the unique key the plan knows for the input (an aggregate’s `key` fields, with `window_start` and `window_end` for a windowed one); required when it knows none (append streams). For an updating input it must cover that unique key.',
        examples: [['region']],
      }),
    ),
    changes: Type.Integer({
      minimum: 1,
      default: 10_000,
      description:
        'How many recent changes are kept for subscribers that resume (`Last-Event-ID`); one asking for an older offset is told to read the view again.',
      examples: [10_000],
    }),
    store: Type.Union([Type.Literal('memory'), Type.Literal('disk')], {
      default: 'memory',
      description:
        'Where the rows live. `memory`: in a Map, and every checkpoint holds them all (~160 bytes a row) — fastest, for views up to ~100,000 rows. `disk`: in an embedded SQLite database in the sink’s folder of the checkpoint directory, so a checkpoint writes only the rows changed since the last one and the view may be larger than memory (`cache_mb` bounds its page cache); lookups and scans read through SQLite.',
      examples: ['disk'],
    }),
    cache_mb: Type.Integer({
      minimum: 1,
      default: 64,
      description:
        'With `store: disk`: the most memory, in MiB, the store’s page cache holds; rows beyond it are read from the file (and the operating system’s cache).',
      examples: [64],
    }),
    checkpoint_changes: Type.Integer({
      minimum: 0,
      default: 1_000,
      description:
        'How many of the newest changes (at most `changes`) go into each checkpoint, so that a subscriber resumes across a restart: one whose position is older is sent a `reset` with the whole view. Each costs about its row in every checkpoint (a change whose row the view still holds costs only its key).',
      examples: [1_000],
    }),
  },
  { additionalProperties: false },
);

/** Options of the `view` sink, defaults applied. */
export type ViewSinkConfig = Static<typeof viewSinkConfig>;

class ViewSink implements Sink {
  readonly #config: ViewSinkConfig;
  readonly #key: readonly string[];
  #table: ViewTable | undefined;

  constructor(config: ViewSinkConfig, key: readonly string[]) {
    this.#config = config;
    this.#key = key;
  }

  async open(ctx: SinkContext): Promise<void> {
    const name = this.#config.name ?? ctx.id;
    const restored = ctx.restored as ViewSnapshot | ViewStoreSnapshot | undefined;
    const version = restored?.version;
    if (version !== undefined && version !== 1 && version !== 2 && version !== 3)
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `view '${name}': unknown snapshot version ${version}`,
        {
          step: ctx.id,
        },
      );
    const table = new ViewTable(name, this.#key, this.#config.changes, this.#openRows(ctx, name, restored));
    if (restored !== undefined) table.restore(restored);
    this.#table = table;
    registerView(ctx.pipeline ?? '', table);
  }

  #openRows(ctx: SinkContext, name: string, restored: ViewSnapshot | ViewStoreSnapshot | undefined) {
    if (this.#config.store === 'memory') {
      if (restored?.version === 3)
        throw new SluiceError(
          'CHECKPOINT_INCOMPATIBLE',
          `view '${name}': the checkpoint's rows are in the view's store (it had \`store: disk\`); set \`store: disk\` again, or clear the job's checkpoints to start the view over in memory`,
          { step: ctx.id, path: 'store' },
        );
      return undefined;
    }
    if (ctx.stateDir === undefined)
      throw new SluiceError(
        'CONFIG_INVALID',
        `view '${name}': \`store: disk\` needs the sink to run in a job (its folder is in the checkpoint directory)`,
        {
          step: ctx.id,
          path: 'store',
        },
      );
    const at = restored?.version === 3 ? restored.checkpointId : undefined;
    return StoreRows.open({ dir: ctx.stateDir, cacheKiB: this.#config.cache_mb * 1024 }, at, name);
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const table = this.#table!;
    const { records, kinds, texts } = batch;
    const fields = this.#key;
    const rejections: SinkRejection[] = [];
    for (let i = 0; i < records.length; i++) {
      const key = keyText(records[i], fields);
      if (key === undefined) {
        rejections.push({
          index: i,
          message: `view '${table.name}': the record has no scalar value for key field(s) ${fields.map((f) => `'${f}'`).join(', ')}`,
        });
        continue;
      }
      const kind = kinds?.[i];
      if (kind === UPDATE_BEFORE) {
        // The update-after right behind it replaces the row: one change, not a delete and an upsert.
        if (kinds?.[i + 1] === UPDATE_AFTER && keyText(records[i + 1], fields) === key) continue;
        table.delete(key);
      } else if (kind === DELETE) table.delete(key);
      else table.upsert(key, texts?.[i] ?? JSON.stringify(records[i]));
    }
    table.notify();
    return rejections.length > 0 ? rejections : undefined;
  }

  async prepareCommit(checkpointId: number): Promise<ViewSnapshot | ViewStoreSnapshot> {
    const table = this.#table!;
    if (table.rows instanceof StoreRows) table.rows.commit(checkpointId);
    return table.checkpoint(Math.min(this.#config.checkpoint_changes, this.#config.changes), checkpointId);
  }

  /**
   * Nothing to publish or release: the rows stay readable after the job ends, as it left them. A
   * store's writes since the last checkpoint stay uncommitted; the next `open` of the view's store
   * in this process rolls them back and closes it (`StoreRows.open`), as a crash would.
   */
  async close(): Promise<void> {}
}

export const viewSink = defineSink({
  type: 'view',
  summary: 'Keeps the latest row per key for the HTTP API: point lookups, scans and live changes.',
  description: [
    'Served by `sluice run --serve` (or `serve(job)` in code) under `/api/views/<name>`: `GET /api/views/<name>/<key>`',
    'for one row, `GET /api/views/<name>?prefix=&start=&end=&after=&where=&limit=` for pages of rows in key order (a prefix or a key range, a filter condition as in a `filter` step), and',
    '`GET /api/views/<name>/changes` for a Server-Sent Events stream of its changes, resumable with `Last-Event-ID`,',
    'or `/api/views/<name>/ws?from=<offset>` for the same changes over WebSocket. The dashboard at `/` charts',
    'views that hold window results and shows each view as a top-N table; `/api/openapi.json` describes each view with the row schema the plan inferred.',
    'With `store: memory` (the default) the rows live in memory and are part of each checkpoint with the newest `checkpoint_changes` changes; with `store: disk` they live in an embedded SQLite database in the checkpoint directory, a checkpoint commits only the rows changed since the last one, and the view may be larger than memory.',
    'Either way a restarted pipeline serves the view as of its checkpoint and subscribers resume where they were (or get a `reset` with the whole view when their position is older).',
    'A record without a value for a key field is a dead letter.',
  ].join(' '),
  delivery: 'exactly-once',
  changelog: {
    consumes: () => CHANGELOG_MODES,
    hint: '',
    upsertKey: (config) => (config.key === undefined ? undefined : { path: 'key', fields: config.key }),
    primaryKey: (fields) => ({ key: [...fields] }),
  },
  config: viewSinkConfig,
  example: 'type: view\nname: totals\nkey: [region]',
  create(config, info) {
    // The shortest unique key the plan knows: an aggregate's key fields (and window bounds); [] for
    // a stream of at most one row (a global aggregate), whose one row is keyed `[]`.
    const known = info?.inputKey?.unique?.toSorted((a, b) => a.length - b.length)[0];
    const key = config.key ?? known;
    if (key === undefined)
      throw new SluiceError(
        'CONFIG_INVALID',
        'the view needs `key`: the plan knows no unique key for its input (set the fields that identify a row, e.g. `key: [id]`)',
        { path: 'key' },
      );
    return new ViewSink(config, key);
  },
});
