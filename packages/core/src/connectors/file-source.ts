/**
 * The `file` source: reads JSON lines, CSV or text from files matched by a path or glob, once or
 * followed like `tail -F`, one resumable partition per file.
 */

import type { Stats } from 'node:fs';
import { glob, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import Type, { type Static } from 'typebox';
import type { Source, SourceContext, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { defineSource } from '../spec.ts';
import { parseDuration } from '../time.ts';
import { FileReader } from './file-reader.ts';
import { decodeFields } from './format-options.ts';

/** Config schema of the `file` source. */
export const fileSourceConfig = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      description:
        'File to read, or a glob (`*`, `**`, `?`, `[…]`, `{a,b}`) matching several, relative to the ' +
        'pipeline file. The glob is expanded once, when the job starts.',
      examples: ['./data/orders.jsonl', './logs/**/*.log'],
    }),
    ...decodeFields,
    mode: Type.Enum(['once', 'follow'], {
      default: 'once',
      description:
        '`once`: read each file to its end, then the input ends. `follow`: keep reading what is ' +
        'appended, like `tail -F` (a rotated file is read to its end and the new one from its ' +
        'start; a truncated file is read again from its start).',
      examples: ['follow'],
    }),
    start: Type.Enum(['beginning', 'end'], {
      default: 'beginning',
      description:
        'Follow mode, for a file with no checkpointed position: read it from the `beginning`, or ' +
        'from the `end` (only lines appended after the job starts, plus the unfinished last line).',
      examples: ['end'],
    }),
    poll_interval: Type.String({
      default: '250ms',
      description:
        'Follow mode: how often a file at its end is checked for new data, rotation and truncation.',
      examples: ['1s'],
    }),
  },
  { additionalProperties: false },
);

/** Options of the `file` source, defaults applied. */
export type FileSourceConfig = Static<typeof fileSourceConfig>;

const GLOB_CHARS = /[*?[\]{}]/;

/** Absolute paths of the regular files `path` names, sorted; CONFIG_INVALID when there are none. */
async function matchFiles(path: string, baseDir: string, step: string): Promise<string[]> {
  const candidates: string[] = [];
  if (GLOB_CHARS.test(path)) {
    for await (const match of glob(path, { cwd: baseDir })) candidates.push(resolve(baseDir, match));
  } else {
    candidates.push(resolve(baseDir, path));
  }
  const files: string[] = [];
  for (const candidate of candidates) {
    let info: Stats;
    try {
      info = await stat(candidate);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw new SluiceError('IO_ERROR', `cannot stat '${candidate}': ${(err as Error).message}`, {
        step,
        path: 'path',
        cause: err,
      });
    }
    if (info.isFile()) files.push(candidate);
  }
  return files.sort();
}

class FileSource implements Source {
  readonly #config: FileSourceConfig;
  readonly #pollMs: number;

  constructor(config: FileSourceConfig) {
    this.#config = config;
    this.#pollMs = parseDuration(config.poll_interval, 'poll_interval');
  }

  async open(ctx: SourceContext): Promise<SourceReader[]> {
    const config = this.#config;
    const follow = config.mode === 'follow';
    const literal = !GLOB_CHARS.test(config.path);
    let files = await matchFiles(config.path, ctx.baseDir, ctx.id);
    if (files.length === 0) {
      if (follow && literal) {
        files = [resolve(ctx.baseDir, config.path)];
      } else {
        throw new SluiceError(
          'CONFIG_INVALID',
          `no file matches '${config.path}' (in ${ctx.baseDir}); check the path` +
            (literal && !follow ? ', or use mode: follow to wait for the file' : ''),
          { step: ctx.id, path: 'path' },
        );
      }
    }
    const matched = new Set(files);
    for (const partition of Object.keys(ctx.restored)) {
      if (!matched.has(partition)) {
        ctx.log.warn('a checkpointed file no longer matches the path; its position is dropped', {
          partition,
        });
      }
    }
    const readers: FileReader[] = [];
    try {
      for (const path of files) {
        const options = {
          path,
          mode: config.mode,
          pollMs: this.#pollMs,
          start: config.start,
          decode: config,
          log: ctx.log,
          step: ctx.id,
        };
        readers.push(await FileReader.open(options, ctx.restored[path]));
      }
    } catch (err) {
      await Promise.allSettled(readers.map((r) => r.close()));
      throw err;
    }
    return readers;
  }
}

/** The `file` source spec. */
export const fileSource = defineSource({
  type: 'file',
  delivery: 'exactly-once',
  identity: ['path'],
  summary: 'Reads JSON lines, CSV or text from local files, once or followed like `tail -F`.',
  description: [
    'Each file matched by `path` is one partition, named by its absolute path; its position is',
    '`{ offset, inode }`: the byte offset just after the last record read and the file’s inode. A',
    'restarted job resumes each file exactly there (delivery is exactly-once: nothing is lost or',
    'read twice); a file whose inode changed, or that is now shorter than the offset, is a new file',
    'and is read from its start (with a warning).',
    '',
    'Records are decoded by `format`; the offset of a record (in dead letters) is the byte offset',
    'of its first byte. A line or row that does not decode goes to the dead-letter output with its',
    'raw text; reading continues. So does a JSON record nested deeper than `max_depth` or holding a',
    'number beyond a double (`1e400`), and a line with bytes that are not UTF-8 (its bytes in',
    'base64; `invalid_utf8: replace` reads them as U+FFFD instead). In `once` mode an unterminated',
    'last line is a record; in `follow` mode it is held until its line break arrives.',
    '',
    'The glob is expanded when the job starts: files created later are not picked up (restart the',
    'job, or name the file without a glob: a followed file that does not exist yet is waited for).',
    'A followed file that is rotated (renamed away and recreated, detected by its inode) is read to',
    'its end, then the new file is read from its start; a truncated file is read from its start.',
    'Each matched file holds an open file descriptor while it is read.',
  ].join('\n'),
  config: fileSourceConfig,
  example: [
    'type: file',
    'path: ./logs/*.jsonl',
    'format: json',
    'mode: follow',
    'start: end',
    'poll_interval: 500ms',
  ].join('\n'),
  bounded: (config) => config.mode === 'once',
  create: (config) => new FileSource(config),
});
