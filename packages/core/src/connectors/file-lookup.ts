/**
 * The `file` lookup: a JSON Lines or CSV file loaded into memory, keyed by one or more of its
 * fields, and loaded again when the file changes.
 */

import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import Type, { type Static } from 'typebox';
import { SluiceError } from '../errors.ts';
import type { Lookup, LookupAnswer, LookupContext, LookupKey } from '../lookup.ts';
import { encodeKey } from '../operators/key.ts';
import type { Row } from '../record.ts';
import { defineLookup } from '../spec.ts';
import { formatDuration, parseDuration } from '../time.ts';
import { createDecoder } from './format-decode.ts';
import { decodeFields } from './format-options.ts';

const config = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      description: 'The file, relative to the pipeline file.',
      examples: ['./customers.jsonl'],
    }),
    format: Type.Enum(['json', 'csv'], {
      default: 'json',
      description:
        'How the file holds its rows: `json` — one JSON object per line (JSON Lines); `csv` — RFC 4180 rows (see `header`, `delimiter`, `infer_types`).',
      examples: ['csv'],
    }),
    key: Type.Union(
      [Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })],
      {
        description:
          'The field(s) a row is found by, matched in order with the step’s `key` values (by SQL equality of values of the same type: a CSV `42` is a number with `infer_types`).',
        examples: ['id', ['region', 'id']],
      },
    ),
    header: decodeFields.header,
    delimiter: decodeFields.delimiter,
    infer_types: decodeFields.infer_types,
    reload_interval: Type.String({
      default: '10s',
      description:
        'How often the file is checked for a change (its modification time, size or inode); a changed file is loaded again and replaces the table at once. `0s` loads it once. Rows already in the step’s cache stay there until their `ttl` ends.',
      examples: ['1m'],
    }),
  },
  { additionalProperties: false },
);

type FileLookupConfig = Static<typeof config>;

/** What identifies one version of the file. */
interface Version {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
}

class FileLookup implements Lookup {
  readonly #config: FileLookupConfig;
  readonly #keyFields: readonly string[];
  readonly #reloadEvery: number;
  #rows = new Map<string, Row>();
  #file = '';
  #version: Version | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #reloading = false;
  #ctx: LookupContext | undefined;

  constructor(cfg: FileLookupConfig, keyLength: number) {
    this.#config = cfg;
    this.#keyFields = typeof cfg.key === 'string' ? [cfg.key] : cfg.key;
    if (this.#keyFields.length !== keyLength) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `the table is keyed by ${this.#keyFields.length} field(s) (${this.#keyFields.join(', ')}), but the step's key has ${keyLength} value(s): give both the same number, in the same order`,
        { path: 'key' },
      );
    }
    this.#reloadEvery = parseDuration(cfg.reload_interval, 'reload_interval');
  }

  async open(ctx: LookupContext): Promise<void> {
    this.#ctx = ctx;
    this.#file = resolve(ctx.baseDir, this.#config.path);
    const version = await this.#stat();
    this.#rows = await this.#load();
    this.#version = version;
    ctx.log.info('lookup table loaded', { step: ctx.id, file: this.#file, rows: this.#rows.size });
    if (this.#reloadEvery > 0) {
      this.#timer = setInterval(() => void this.#reloadIfChanged(), this.#reloadEvery);
      this.#timer.unref();
      ctx.signal.addEventListener('abort', () => clearInterval(this.#timer), { once: true });
    }
  }

  async get(keys: readonly LookupKey[]): Promise<LookupAnswer[]> {
    const rows = this.#rows;
    return keys.map((key) => rows.get(encodeKey(key)) ?? null);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
  }

  async #stat(): Promise<Version> {
    try {
      const s = await stat(this.#file);
      return { mtimeMs: s.mtimeMs, size: s.size, ino: s.ino };
    } catch (err) {
      throw new SluiceError(
        'PATH_UNUSABLE',
        `cannot read the lookup table ${this.#file}: ${(err as Error).message}`,
        {
          path: 'path',
          cause: err,
        },
      );
    }
  }

  async #reloadIfChanged(): Promise<void> {
    if (this.#reloading) return;
    this.#reloading = true;
    const ctx = this.#ctx!;
    try {
      const version = await this.#stat();
      const was = this.#version;
      if (was && was.mtimeMs === version.mtimeMs && was.size === version.size && was.ino === version.ino)
        return;
      const rows = await this.#load();
      if (ctx.signal.aborted) return;
      this.#rows = rows;
      this.#version = version;
      ctx.log.info('lookup table reloaded', { step: ctx.id, file: this.#file, rows: rows.size });
    } catch (err) {
      ctx.log.warn('lookup table not reloaded; the rows loaded before stay in use', {
        step: ctx.id,
        file: this.#file,
        reason: err instanceof Error ? err.message : String(err),
        retry_in: formatDuration(this.#reloadEvery),
      });
    } finally {
      this.#reloading = false;
    }
  }

  /** The rows of the file by encoded key; the last row of a key wins. Throws on a row that does not decode or has no key. */
  async #load(): Promise<Map<string, Row>> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.#file);
    } catch (err) {
      throw new SluiceError(
        'PATH_UNUSABLE',
        `cannot read the lookup table ${this.#file}: ${(err as Error).message}`,
        {
          path: 'path',
          cause: err,
        },
      );
    }
    const cfg = this.#config;
    const decoder = createDecoder({
      format: cfg.format,
      header: cfg.header,
      delimiter: cfg.delimiter,
      infer_types: cfg.infer_types,
      max_line: '64mb',
    });
    decoder.push(bytes);
    const out = decoder.newOutput();
    decoder.decode(out, Number.POSITIVE_INFINITY, true);
    const bad = out.failures[0];
    if (bad !== undefined) {
      throw new SluiceError(
        'DECODE_FAILED',
        `the lookup table ${this.#file} has a row that does not decode at byte ${bad.offset}: ${bad.message}`,
        { path: 'path' },
      );
    }
    const rows = new Map<string, Row>();
    const fields = this.#keyFields;
    const values: unknown[] = new Array(fields.length);
    for (let r = 0; r < out.records.length; r++) {
      const row = out.records[r];
      for (let f = 0; f < fields.length; f++) {
        const v = row[fields[f]];
        if (v === undefined || v === null) {
          throw new SluiceError(
            'DECODE_FAILED',
            `the row at byte ${out.offsets[r]} of the lookup table ${this.#file} has no key field '${fields[f]}'`,
            { path: 'key' },
          );
        }
        values[f] = v;
      }
      rows.set(encodeKey(values), row);
    }
    return rows;
  }
}

export const fileLookup = defineLookup({
  type: 'file',
  summary: 'A JSON Lines or CSV file, held in memory and found by key; loaded again when it changes.',
  description: [
    'The whole file is read when the job opens, into a map from each row’s `key` field(s) to the row (a later row with the same key replaces an earlier one). A file that cannot be read, a row that does not decode, or a row without a key field stops the job from starting, with the byte offset of the row.',
    '',
    'Every `reload_interval` the file’s modification time, size and inode are checked; when they changed, the file is read again and the new rows replace the old ones together (a reader never sees half a file). A new version that does not load leaves the old rows in use, with a warning, and is tried again at the next check. Write a new version to a temporary file and rename it over the old one, so that a check never reads one half-written.',
    '',
    'Every key is answered from memory at once, in one call per batch.',
  ].join('\n'),
  example: ['type: file', 'path: ./customers.csv', 'format: csv', 'key: id', 'reload_interval: 1m'].join(
    '\n',
  ),
  config,
  create: (cfg, info) => new FileLookup(cfg, info.keyLength),
});
