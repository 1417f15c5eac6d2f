/**
 * Writing changelogs as JSON lines, shared by the `file` and `stdout` sinks: the `changelog` and
 * `key` options, and the records that a written batch becomes in each format.
 */

import Type from 'typebox';
import { SluiceError } from '../errors.ts';
import { DELETE, INSERT, type Row, type RowKind, UPDATE_AFTER, UPDATE_BEFORE } from '../record.ts';
import { CHANGELOG_MODES, type SinkChangelog } from '../spec.ts';

/** The field a delete marker of `changelog: upsert` sets to true. */
export const DELETED_FIELD = '__deleted';

/** Schema properties of a sink that writes changelogs. */
export const changelogFields = {
  changelog: Type.Optional(
    Type.Enum(['debezium', 'upsert'], {
      description:
        'Write an updating stream (e.g. an `aggregate` without a window) as a changelog, one JSON line per change. ' +
        '`debezium`: an envelope `{"before": …, "after": …, "op": …}` — `c` for an insert (before null), `u` for ' +
        'an update (an update-before and the update-after that follows it become one line), `d` for a delete or ' +
        'for an update-before with no update-after (after null). `upsert`: the row itself for an insert or ' +
        `update, and for a delete the \`key\` fields of the row with \`"${DELETED_FIELD}": true\`; an ` +
        'update-before followed by the update-after of the same key writes nothing. Absent: the sink takes ' +
        'only inserts, and the pipeline is refused when its input is an updating stream. JSON only.',
      examples: ['upsert'],
    }),
  ),
  key: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description:
        'With `changelog: upsert`: the fields that identify a row (its primary key), written in delete markers. ' +
        'A record without one of them is rejected (dead letter). When the input is an updating stream whose key ' +
        'is known (an `aggregate` without a window: its `key`), they must include it, or the pipeline is refused ' +
        '(PLAN_KEY_MISMATCH): rows that differ in a field left out would overwrite and delete each other.',
      examples: [['region']],
    }),
  ),
};

/** The changelog options of a sink config. */
export interface ChangelogOptions {
  readonly changelog?: 'debezium' | 'upsert';
  readonly key?: readonly string[];
  readonly format?: string;
}

/** The `changelog` declaration of the `file` and `stdout` sink specs. */
export const changelogSinkSupport: SinkChangelog<ChangelogOptions> = {
  consumes: (config) => (config.changelog === undefined ? ['append'] : CHANGELOG_MODES),
  hint: 'set `changelog: debezium` (one {"before", "after", "op"} line per change), or `changelog: upsert` with `key: [fields]` (the row, or a delete marker for its key)',
  upsertKey: (config) =>
    config.changelog === 'upsert' && config.key !== undefined
      ? { path: 'key', fields: config.key }
      : undefined,
  primaryKey: (fields) => ({ changelog: 'upsert', key: [...fields] }),
};

/** Throws CONFIG_INVALID for a changelog with CSV, `upsert` without `key`, or `key` without `upsert`. */
export function checkChangelogOptions(options: ChangelogOptions): void {
  const fail = (path: string, message: string): never => {
    throw new SluiceError('CONFIG_INVALID', message, { path });
  };
  if (options.changelog !== undefined && options.format !== undefined && options.format !== 'json')
    fail('changelog', `a changelog is written as JSON lines; remove \`format: ${options.format}\``);
  if (options.changelog === 'upsert' && options.key === undefined)
    fail('key', 'changelog: upsert needs `key`, the fields that identify a row, e.g. key: [region]');
  if (options.key !== undefined && options.changelog !== 'upsert')
    fail('key', '`key` is for `changelog: upsert`; set it, or remove `key`');
}

/**
 * One line to write: `row` (and `text`, the JSON it was read as, when it is an input record) or
 * `error` when the records cannot be written; it stands for the `count` input records from
 * `first`, which are rejected together when it is.
 */
export interface ChangelogEntry {
  row: Row;
  text?: string;
  first: number;
  count: number;
  error?: string;
}

/**
 * Turns the records of one `write` (with their kinds; absent: all inserts) into the lines of a
 * changelog. Every input record belongs to exactly one entry, in order.
 */
export function changelogEntries(
  options: ChangelogOptions,
  records: readonly Row[],
  kinds: readonly RowKind[] | undefined,
  texts: readonly (string | undefined)[] | undefined,
): ChangelogEntry[] {
  return options.changelog === 'upsert'
    ? upsertEntries(options.key ?? [], records, kinds, texts)
    : debeziumEntries(records, kinds);
}

function debeziumEntries(records: readonly Row[], kinds: readonly RowKind[] | undefined): ChangelogEntry[] {
  const entries: ChangelogEntry[] = [];
  for (let i = 0; i < records.length; i++) {
    const kind = kinds === undefined ? INSERT : kinds[i];
    const record = records[i];
    if (kind === UPDATE_BEFORE && kinds![i + 1] === UPDATE_AFTER) {
      entries.push({ row: { before: record, after: records[i + 1], op: 'u' }, first: i, count: 2 });
      i++;
    } else if (kind === UPDATE_BEFORE || kind === DELETE) {
      entries.push({ row: { before: record, after: null, op: 'd' }, first: i, count: 1 });
    } else {
      const op = kind === UPDATE_AFTER ? 'u' : 'c';
      entries.push({ row: { before: null, after: record, op }, first: i, count: 1 });
    }
  }
  return entries;
}

/** The key fields of `record`, or the name of the first one it lacks. */
function keyOf(key: readonly string[], record: Row): Row | string {
  const out: Row = {};
  for (const field of key) {
    if (!Object.hasOwn(record, field) || record[field] === undefined) return field;
    out[field] = record[field];
  }
  return out;
}

function sameKey(key: readonly string[], a: Row, b: Row): boolean {
  for (const field of key) if (!Object.is(a[field], b[field])) return false;
  return true;
}

function upsertEntries(
  key: readonly string[],
  records: readonly Row[],
  kinds: readonly RowKind[] | undefined,
  texts: readonly (string | undefined)[] | undefined,
): ChangelogEntry[] {
  const entries: ChangelogEntry[] = [];
  for (let i = 0; i < records.length; i++) {
    const kind = kinds === undefined ? INSERT : kinds[i];
    const record = records[i];
    const keyed = keyOf(key, record);
    if (typeof keyed === 'string') {
      entries.push({
        row: record,
        first: i,
        count: 1,
        error: `record has no key field '${keyed}' (the sink's \`key\`), so its row cannot be upserted or deleted`,
      });
      continue;
    }
    // An update-before replaced by the update-after of the same key needs no line of its own.
    if (kind === UPDATE_BEFORE && kinds![i + 1] === UPDATE_AFTER && sameKey(key, record, records[i + 1])) {
      const after = records[i + 1];
      const text = texts?.[i + 1];
      entries.push({ row: after, ...(text !== undefined ? { text } : {}), first: i, count: 2 });
      i++;
      continue;
    }
    if (kind === UPDATE_BEFORE || kind === DELETE) {
      entries.push({ row: { ...keyed, [DELETED_FIELD]: true }, first: i, count: 1 });
      continue;
    }
    const text = texts?.[i];
    entries.push({ row: record, ...(text !== undefined ? { text } : {}), first: i, count: 1 });
  }
  return entries;
}

/** Encodes one entry with `encode`; throws SINK_REJECTED for an entry that holds an error. */
export function encodeEntry(encode: (row: Row, text?: string) => string, entry: ChangelogEntry): string {
  if (entry.error !== undefined) throw new SluiceError('SINK_REJECTED', entry.error);
  return encode(entry.row, entry.text);
}

/** Adds a rejection with `message` for each input record `entry` stands for. */
export function rejectEntry(
  rejections: { index: number; message: string }[],
  entry: ChangelogEntry,
  message: string,
): void {
  for (let i = entry.first; i < entry.first + entry.count; i++) rejections.push({ index: i, message });
}
