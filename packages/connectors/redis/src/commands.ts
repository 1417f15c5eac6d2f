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
import { fillTemplate } from './template.ts';

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

/** What one record becomes: its commands, or why it is refused. */
type Built = string[][] | { problem: string };

/** Builds the commands of `batch` for `plan`. */
export function batchCommands(batch: SinkBatch, plan: SinkPlan, config: RedisSinkConfig): Commands {
  const commands: Command[] = [];
  const refused = new Map<number, string>();
  const { records, kinds, texts } = batch;
  /** The UPDATE_AFTER that replaces the hash its UPDATE_BEFORE held. */
  let replaceAt = -1;
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as Row;
    const kind: RowKind = kinds?.[i] ?? INSERT;
    let built: Built;
    if (kind === UPDATE_BEFORE || kind === DELETE) {
      // An UPDATE_BEFORE whose UPDATE_AFTER writes the same key (and member) over it needs no
      // removal of its own; in a hash the new record then replaces the hash in one command.
      const next = kinds?.[i + 1] === UPDATE_AFTER ? (records[i + 1] as Row) : undefined;
      built = removal(record, next, plan);
      if (plan.mode === 'hash' && next !== undefined && sameKey(record, next, plan)) {
        built = [];
        replaceAt = i + 1;
      }
    } else if (i === replaceAt) built = replaceHash(record, plan, config);
    else built = write(record, texts?.[i], plan, config);
    if ('problem' in built) refused.set(i, built.problem);
    else for (const args of built) commands.push({ index: i, args });
  }
  return { commands, refused };
}

/** Whether two records name the same key (both keys fill). */
function sameKey(a: Row, b: Row, plan: SinkPlan): boolean {
  const key = fillTemplate(plan.target, a);
  return typeof key === 'string' && fillTemplate(plan.target, b) === key;
}

/**
 * Replaces the whole hash at the key with the record's fields, atomically: a reader sees the old
 * hash or the new one, never the key missing or a mix of the two (which `DEL` then `HSET` as two
 * commands would show between them). One command, so its reply maps to its record like the rest.
 */
const REPLACE_HASH =
  "redis.call('DEL', KEYS[1]); if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end";

function replaceHash(record: Row, plan: SinkPlan, config: RedisSinkConfig): Built {
  const key = fillTemplate(plan.target, record);
  if (typeof key !== 'string') return key;
  const args = ['EVAL', REPLACE_HASH, '1', key];
  for (const name of config.fields ?? Object.keys(record)) {
    const value = record[name];
    if (value !== null && value !== undefined) args.push(name, fieldText(value));
  }
  return args.length > 4 ? [args] : { problem: 'the record has no field to write' };
}

function removal(record: Row, next: Row | undefined, plan: SinkPlan): Built {
  const key = fillTemplate(plan.target, record);
  if (typeof key !== 'string') return key;
  switch (plan.mode) {
    case 'hash':
      return [['DEL', key]];
    case 'string':
      return next !== undefined && fillTemplate(plan.target, next) === key ? [] : [['DEL', key]];
    case 'sorted_set': {
      const member = memberOf(record, plan);
      if (typeof member !== 'string') return member;
      if (next !== undefined && plan.member !== undefined)
        if (fillTemplate(plan.target, next) === key && memberOf(next, plan) === member) return [];
      return [['ZREM', key, member]];
    }
    default:
      // The spec's changelog lets no updating stream reach the stream and publish modes.
      return { problem: `mode ${plan.mode} writes appends only, not deletes` };
  }
}

function memberOf(record: Row, plan: SinkPlan): string | { problem: string } {
  return plan.member === undefined ? recordJson(record) : fillTemplate(plan.member, record);
}

function write(record: Row, text: string | undefined, plan: SinkPlan, config: RedisSinkConfig): Built {
  const target = fillTemplate(plan.target, record);
  if (typeof target !== 'string') return target;
  switch (plan.mode) {
    case 'hash': {
      const set: string[] = ['HSET', target];
      const unset: string[] = ['HDEL', target];
      for (const name of config.fields ?? Object.keys(record)) {
        const value = record[name];
        if (value === null || value === undefined) unset.push(name);
        else set.push(name, fieldText(value));
      }
      const out: string[][] = [];
      if (set.length > 2) out.push(set);
      if (unset.length > 2) out.push(unset);
      return out.length > 0 ? out : { problem: 'the record has no field to write' };
    }
    case 'string': {
      const value = recordValue(record, text, config);
      if (typeof value !== 'string') return value;
      return [
        plan.ttl === undefined ? ['SET', target, value] : ['SET', target, value, 'PX', String(plan.ttl)],
      ];
    }
    case 'sorted_set': {
      const name = config.score_field as string;
      const score = record[name];
      if (typeof score !== 'number' || Number.isNaN(score))
        return {
          problem: `score field '${name}' is ${score === undefined ? 'missing' : `${JSON.stringify(score) ?? typeof score}, not a number`}`,
        };
      const member = memberOf(record, plan);
      if (typeof member !== 'string') return member;
      return [['ZADD', target, scoreText(score), member]];
    }
    case 'stream': {
      const args = ['XADD', target];
      if (config.maxlen !== undefined) args.push('MAXLEN', '~', String(config.maxlen));
      args.push('*');
      const fixed = args.length;
      for (const name of config.fields ?? Object.keys(record)) {
        const value = record[name];
        if (value !== null && value !== undefined) args.push(name, fieldText(value));
      }
      return args.length > fixed ? [args] : { problem: 'the record has no field to write' };
    }
    case 'publish': {
      const value = recordValue(record, text, config);
      if (typeof value !== 'string') return value;
      return [['PUBLISH', target, value]];
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
