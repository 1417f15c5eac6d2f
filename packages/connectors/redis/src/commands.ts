/**
 * The commands the `redis` sink sends for each record of a batch, by mode and row kind; a record
 * that cannot become a command (a key field NULL, a score that is no number) is refused here.
 */

import {
  DELETE,
  INSERT,
  type Row,
  type RowKind,
  type SinkBatch,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '@sluice/core';
import { fieldText, recordJson } from './encode.ts';
import type { RedisSinkConfig, SinkPlan } from './sink-config.ts';
import { fillTemplate, type Template, templateProblem } from './template.ts';

/**
 * Where the commands of a batch go, argument by argument: the sink's RESP encoder (no array per
 * command), or `batchCommands`'s lists. A record's commands are only begun once nothing can refuse
 * it any more, so a refused record leaves no partial command behind.
 */
export interface CommandWriter {
  /** Starts a command of record `index`: `count` strings in all, `name` (a constant) the first. */
  begin(index: number, name: string, count: number): void;
  /** An argument that recurs from record to record (an option such as `MAXLEN`, a script). */
  constant(s: string): void;
  arg(s: string): void;
  /** An argument filled from `template` with `record`'s fields (which `templateProblem` checked). */
  filled(template: Template, record: Row): void;
  end(): void;
}

/** A command for the record at `index` of the batch. */
export interface Command {
  readonly index: number;
  readonly args: string[];
}

/** The commands of a batch, in record order, and the records refused before any was sent. */
export interface Commands {
  readonly commands: Command[];
  readonly refused: Map<number, string>;
}

/** Builds the commands of `batch` for `plan` as lists of arguments (for tests and for reading). */
export function batchCommands(batch: SinkBatch, plan: SinkPlan, config: RedisSinkConfig): Commands {
  const commands: Command[] = [];
  let args: string[] = [];
  const writer: CommandWriter = {
    begin(index, name) {
      args = [name];
      commands.push({ index, args });
    },
    constant: (s) => args.push(s),
    arg: (s) => args.push(s),
    filled: (template, record) => args.push(fillTemplate(template, record) as string),
    end() {},
  };
  const refused = writeCommands(batch, plan, config, writer);
  return { commands, refused };
}

/**
 * Writes the commands of `batch` for `plan` to `out`, in record order; returns the records refused
 * before any was sent (by index, with the reason).
 */
export function writeCommands(
  batch: SinkBatch,
  plan: SinkPlan,
  config: RedisSinkConfig,
  out: CommandWriter,
): Map<number, string> {
  const refused = new Map<number, string>();
  const { records, kinds, texts } = batch;
  /** The UPDATE_AFTER that replaces the hash its UPDATE_BEFORE held. */
  let replaceAt = -1;
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as Row;
    const kind: RowKind = kinds?.[i] ?? INSERT;
    let problem: string | undefined;
    if (kind === UPDATE_BEFORE || kind === DELETE) {
      // An UPDATE_BEFORE whose UPDATE_AFTER writes the same key (and member) over it needs no
      // removal of its own; in a hash the new record then replaces the hash in one command.
      const next = kinds?.[i + 1] === UPDATE_AFTER ? (records[i + 1] as Row) : undefined;
      if (plan.mode === 'hash' && next !== undefined && sameKey(record, next, plan)) replaceAt = i + 1;
      else problem = removal(i, record, next, plan, out);
    } else if (i === replaceAt) problem = replaceHash(i, record, plan, config, out);
    else problem = write(i, record, texts?.[i], plan, config, out);
    if (problem !== undefined) refused.set(i, problem);
  }
  return refused;
}

/** Whether two records name the same key (both keys fill). */
function sameKey(a: Row, b: Row, plan: SinkPlan): boolean {
  const key = fillTemplate(plan.target, a);
  return typeof key === 'string' && fillTemplate(plan.target, b) === key;
}

/** How many of `names` the record holds a value for (not NULL, not missing). */
function present(record: Row, names: readonly string[]): number {
  let n = 0;
  for (let j = 0; j < names.length; j++) {
    const value = record[names[j] as string];
    if (value !== null && value !== undefined) n++;
  }
  return n;
}

/**
 * Writes `name value` for each of `names` the record holds a value for. `fixed`: the names are
 * the configured `fields`, the same in every command, so the writer encodes each once
 * (`constant`); names read from each record are not cached (they are unbounded).
 */
function pairs(record: Row, names: readonly string[], out: CommandWriter, fixed: boolean): void {
  for (let j = 0; j < names.length; j++) {
    const name = names[j] as string;
    const value = record[name];
    if (value === null || value === undefined) continue;
    if (fixed) out.constant(name);
    else out.arg(name);
    out.arg(fieldText(value));
  }
}

/**
 * Replaces the whole hash at the key with the record's fields, atomically: a reader sees the old
 * hash or the new one, never the key missing or a mix of the two (which `DEL` then `HSET` as two
 * commands would show between them). One command, so its reply maps to its record like the rest.
 */
const REPLACE_HASH =
  "redis.call('DEL', KEYS[1]); if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end";

function replaceHash(
  i: number,
  record: Row,
  plan: SinkPlan,
  config: RedisSinkConfig,
  out: CommandWriter,
): string | undefined {
  const key = fillTemplate(plan.target, record);
  if (typeof key !== 'string') return key.problem;
  const names = config.fields ?? Object.keys(record);
  const n = present(record, names);
  if (n === 0) return 'the record has no field to write';
  out.begin(i, 'EVAL', 4 + 2 * n);
  out.constant(REPLACE_HASH);
  out.constant('1');
  out.arg(key);
  pairs(record, names, out, names === config.fields);
  out.end();
  return undefined;
}

/** Writes a one-key command (`DEL key`). */
function keyCommand(i: number, name: string, key: string, out: CommandWriter): undefined {
  out.begin(i, name, 2);
  out.arg(key);
  out.end();
  return undefined;
}

function removal(
  i: number,
  record: Row,
  next: Row | undefined,
  plan: SinkPlan,
  out: CommandWriter,
): string | undefined {
  const key = fillTemplate(plan.target, record);
  if (typeof key !== 'string') return key.problem;
  switch (plan.mode) {
    case 'hash':
      return keyCommand(i, 'DEL', key, out);
    case 'string':
      return next !== undefined && fillTemplate(plan.target, next) === key
        ? undefined
        : keyCommand(i, 'DEL', key, out);
    case 'sorted_set': {
      const member = memberOf(record, plan);
      if (typeof member !== 'string') return member.problem;
      if (next !== undefined && plan.member !== undefined)
        if (fillTemplate(plan.target, next) === key && memberOf(next, plan) === member) return undefined;
      out.begin(i, 'ZREM', 3);
      out.arg(key);
      out.arg(member);
      out.end();
      return undefined;
    }
    default:
      // The spec's changelog lets no updating stream reach the stream and publish modes.
      return `mode ${plan.mode} writes appends only, not deletes`;
  }
}

function memberOf(record: Row, plan: SinkPlan): string | { problem: string } {
  return plan.member === undefined ? recordJson(record) : fillTemplate(plan.member, record);
}

function write(
  i: number,
  record: Row,
  text: string | undefined,
  plan: SinkPlan,
  config: RedisSinkConfig,
  out: CommandWriter,
): string | undefined {
  const problem = templateProblem(plan.target, record);
  if (problem !== undefined) return problem;
  const target = plan.target;
  switch (plan.mode) {
    case 'hash': {
      const names = config.fields ?? Object.keys(record);
      if (names.length === 0) return 'the record has no field to write';
      const set = present(record, names);
      if (set > 0) {
        out.begin(i, 'HSET', 2 + 2 * set);
        out.filled(target, record);
        pairs(record, names, out, names === config.fields);
        out.end();
      }
      if (set < names.length) {
        out.begin(i, 'HDEL', 2 + names.length - set);
        out.filled(target, record);
        for (let j = 0; j < names.length; j++) {
          const name = names[j] as string;
          const value = record[name];
          if (value === null || value === undefined) out.arg(name);
        }
        out.end();
      }
      return undefined;
    }
    case 'string': {
      const value = recordValue(record, text, config);
      if (typeof value !== 'string') return value.problem;
      const ttl = plan.ttl;
      out.begin(i, 'SET', ttl === undefined ? 3 : 5);
      out.filled(target, record);
      out.arg(value);
      if (ttl !== undefined) {
        out.constant('PX');
        out.constant(String(ttl));
      }
      out.end();
      return undefined;
    }
    case 'sorted_set': {
      const name = config.score_field as string;
      const score = record[name];
      if (typeof score !== 'number' || Number.isNaN(score))
        return `score field '${name}' is ${score === undefined ? 'missing' : `${JSON.stringify(score) ?? typeof score}, not a number`}`;
      const member = memberOf(record, plan);
      if (typeof member !== 'string') return member.problem;
      out.begin(i, 'ZADD', 4);
      out.filled(target, record);
      out.arg(scoreText(score));
      out.arg(member);
      out.end();
      return undefined;
    }
    case 'stream': {
      const names = config.fields ?? Object.keys(record);
      const n = present(record, names);
      if (n === 0) return 'the record has no field to write';
      const maxlen = config.maxlen;
      out.begin(i, 'XADD', (maxlen === undefined ? 3 : 6) + 2 * n);
      out.filled(target, record);
      if (maxlen !== undefined) {
        out.constant('MAXLEN');
        out.constant('~');
        out.constant(String(maxlen));
      }
      out.constant('*');
      pairs(record, names, out, names === config.fields);
      out.end();
      return undefined;
    }
    case 'publish': {
      const value = recordValue(record, text, config);
      if (typeof value !== 'string') return value.problem;
      out.begin(i, 'PUBLISH', 3);
      out.filled(target, record);
      out.arg(value);
      out.end();
      return undefined;
    }
  }
}

/** The value written for a record: its `value_field`, or the record as JSON. */
function recordValue(
  record: Row,
  text: string | undefined,
  config: RedisSinkConfig,
): string | { problem: string } {
  if (config.value_field === undefined) return text ?? recordJson(record);
  const value = record[config.value_field];
  if (value === null || value === undefined)
    return { problem: `value field '${config.value_field}' is ${value === null ? 'NULL' : 'missing'}` };
  return fieldText(value);
}

/** A score as Redis reads it: infinities as `+inf`/`-inf`. */
function scoreText(score: number): string {
  if (score === Number.POSITIVE_INFINITY) return '+inf';
  if (score === Number.NEGATIVE_INFINITY) return '-inf';
  return String(score);
}
