/**
 * What the sink and source conformance suites share: validated configs, contexts outside a job,
 * a logger that keeps its lines, the delivery-guarantee check and changelog folding.
 */

import assert from 'node:assert/strict';
import type { TSchema } from 'typebox';
import type { Logger, SinkContext, SourceContext } from '../connector.ts';
import { DELETED_FIELD } from '../connectors/changelog-format.ts';
import { validateConfig } from '../plan/config.ts';
import { DELETE, type Row, type RowKind, UPDATE_BEFORE } from '../record.ts';
import { type Delivery, type DeliveryGuarantee, deliveryOf } from '../spec.ts';
import { systemClock } from '../time.ts';

/** A config as a pipeline gives it: `options` validated by `schema`, defaults applied. */
export function configOf<C>(schema: TSchema, options: { readonly [option: string]: unknown }): C {
  const result = validateConfig<C>(schema, options);
  if (!result.ok)
    throw new Error(`invalid options ${JSON.stringify(options)}: ${JSON.stringify(result.issues)}`);
  return result.value;
}

/** A logger that keeps every line (to look for secrets in). */
export interface KeptLogger extends Logger {
  readonly lines: { level: string; message: string; fields?: { [k: string]: unknown } }[];
}

export function keptLogger(): KeptLogger {
  const lines: KeptLogger['lines'] = [];
  const at =
    (level: string) =>
    (message: string, fields?: { [k: string]: unknown }): void => {
      lines.push({ level, message, fields });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A sink context outside a job, id `out`, restoring `restored`. */
export function sinkContextOf(
  baseDir: string,
  restored: unknown,
  log: Logger,
  pipeline: string,
): SinkContext {
  return {
    id: 'out',
    pipeline,
    restored,
    clock: systemClock,
    baseDir,
    signal: new AbortController().signal,
    log,
  };
}

/** A source context outside a job, id `in`, restoring `restored` (by reader partition). */
export function sourceContextOf(
  baseDir: string,
  restored: { readonly [partition: string]: unknown },
  log: Logger,
  pipeline: string,
): SourceContext {
  return {
    id: 'in',
    pipeline,
    restored,
    clock: systemClock,
    baseDir,
    signal: new AbortController().signal,
    log,
  };
}

/** The values an option's schema allows when it is an enumeration (Type.Enum, a union of literals). */
function enumValues(schema: unknown): string[] | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined;
  const s = schema as { enum?: unknown[]; anyOf?: unknown[]; const?: unknown };
  if (Array.isArray(s.enum)) return s.enum.map(String);
  if (Array.isArray(s.anyOf)) {
    const out: string[] = [];
    for (const branch of s.anyOf) {
      const c = (branch as { const?: unknown }).const;
      if (c === undefined) return undefined;
      out.push(String(c));
    }
    return out;
  }
  return undefined;
}

/**
 * Checks a declared guarantee against the config schema (a guarantee chosen by an option names
 * every value of that option and no other) and returns the guarantee of `config`.
 */
export function checkedDelivery<C>(guarantee: DeliveryGuarantee<C>, schema: TSchema, config: C): Delivery {
  const all: readonly Delivery[] = ['at-most-once', 'at-least-once', 'exactly-once'];
  if (typeof guarantee !== 'string') {
    const option = (schema as { properties?: { [k: string]: unknown } }).properties?.[guarantee.option];
    assert.ok(option !== undefined, `the guarantee is chosen by '${guarantee.option}', which is no option`);
    const values = enumValues(option);
    assert.ok(values !== undefined, `'${guarantee.option}' chooses the guarantee but is no enumeration`);
    assert.deepEqual(
      Object.keys(guarantee.values).sort(),
      [...values].sort(),
      `the guarantee names each value of '${guarantee.option}'`,
    );
  }
  const delivery = deliveryOf(guarantee, config);
  assert.ok(all.includes(delivery), `'${delivery}' is a delivery guarantee`);
  return delivery;
}

/**
 * Folds a changelog written as rows (the `changelog` formats of the file, stdout and http sinks:
 * `debezium` envelopes, or `upsert` rows and `{key, "__deleted": true}` deletes) into the table it
 * describes, keyed by `key` (a field of the rows).
 */
export function foldChangelogRows(rows: readonly Row[], format: 'debezium' | 'upsert', key: string): Row[] {
  const table = new Map<unknown, Row>();
  for (const row of rows) {
    if (format === 'upsert') {
      if (row[DELETED_FIELD] === true) table.delete(row[key]);
      else table.set(row[key], row);
      continue;
    }
    const before = row.before as Row | null;
    const after = row.after as Row | null;
    if (before !== null && before !== undefined) table.delete(before[key]);
    if (after !== null && after !== undefined) table.set(after[key], after);
  }
  return [...table.values()];
}

/** Folds records with their row kinds (a retract stream) into the table, keyed by `key`. */
export function foldChanges(records: readonly Row[], kinds: readonly RowKind[], key: string): Row[] {
  const table = new Map<unknown, Row>();
  for (let i = 0; i < records.length; i++) {
    if (kinds[i] === UPDATE_BEFORE || kinds[i] === DELETE) table.delete(records[i][key]);
    else table.set(records[i][key], records[i]);
  }
  return [...table.values()];
}

/** A row as JSON text with its fields in name order (nested objects too), naming it by value. */
export function rowText(row: Row): string {
  return JSON.stringify(row, (_name, value: unknown) =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

/**
 * Folds a changelog without a key — an append or retract stream, as a memory sink with
 * `changelog: true` keeps it in `written` — into the table it describes, a multiset of rows: an
 * INSERT or UPDATE_AFTER (or a record without a kind) adds its row, an UPDATE_BEFORE or DELETE
 * removes one row equal to it (field order aside). Throws when a change removes a row the table
 * does not hold. Returns the table's rows as {@link rowText} strings, sorted, for `deepEqual`.
 */
export function foldChangelog(log: readonly { readonly record: Row; readonly kind?: RowKind }[]): string[] {
  const table = new Map<string, number>();
  for (const { record, kind } of log) {
    const text = rowText(record);
    const n = table.get(text) ?? 0;
    if (kind !== UPDATE_BEFORE && kind !== DELETE) {
      table.set(text, n + 1);
      continue;
    }
    if (n === 0)
      throw new Error(`a ${kind === DELETE ? 'delete' : 'update-before'} of a row not in the table: ${text}`);
    if (n === 1) table.delete(text);
    else table.set(text, n - 1);
  }
  const rows: string[] = [];
  for (const [text, n] of table) for (let i = 0; i < n; i++) rows.push(text);
  return rows.sort();
}

/** Rows sorted by their `id` field (numbers), for comparisons that ignore order. */
export function byId(rows: readonly Row[]): Row[] {
  return [...rows].sort((a, b) => Number(a.id) - Number(b.id));
}

/** How many times each `id` occurs. */
export function idCounts(rows: readonly Row[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const r of rows) counts.set(Number(r.id), (counts.get(Number(r.id)) ?? 0) + 1);
  return counts;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every string in an error: its message and stack, and those of its causes. */
export function errorTexts(err: unknown): string[] {
  const out: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (e instanceof Error) {
      out.push(e.message, e.stack ?? '');
      e = e.cause;
    } else {
      out.push(String(e));
      break;
    }
  }
  return out;
}

/** The values of `options` at options the schema marks `secret: true` (at any depth). */
export function secretValues(schema: unknown, options: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown, value: unknown): void => {
    if (typeof node !== 'object' || node === null || value === undefined || value === null) return;
    const n = node as {
      secret?: boolean;
      properties?: { [k: string]: unknown };
      patternProperties?: { [k: string]: unknown };
      additionalProperties?: unknown;
      anyOf?: unknown[];
      items?: unknown;
    };
    if (n.secret === true && typeof value === 'string') out.push(value);
    if (Array.isArray(n.anyOf)) for (const b of n.anyOf) walk(b, value);
    if (Array.isArray(value)) {
      for (const v of value) walk(n.items, v);
      return;
    }
    if (typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      const child =
        n.properties?.[k] ??
        (n.patternProperties ? Object.values(n.patternProperties)[0] : undefined) ??
        n.additionalProperties;
      walk(child, v);
    }
  };
  walk(schema, options);
  return out;
}
