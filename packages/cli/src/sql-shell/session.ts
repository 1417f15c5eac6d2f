/**
 * What a shell session knows: the tables, views and models its DDL created and its SETs, kept as
 * the statements' text, in order, so that every query is compiled as a script of them followed
 * by the query; and the shell's own settings (the result mode).
 */

import { resolve } from 'node:path';
import { didYouMean, type Plan, type Registry, resolvePlan } from '@sluice/core';
import {
  compileQuery,
  compileSql,
  connectorTypesInSql,
  explainQuery,
  explainSql,
  parseSql,
  type Statement,
} from '@sluice/sql';
import { registryFor } from '../plugins.ts';
import { RESULT_MODES, type ResultMode } from './result-view.ts';

/** One statement the session keeps. */
export interface SessionEntry {
  readonly kind: 'table' | 'view' | 'model' | 'set';
  /** The table, view or model name, or the SET key. */
  readonly name: string;
  /** The statement as typed, without its `;`. */
  readonly text: string;
  /** Its columns (a table's as declared, a view's as planned); a model's input columns. */
  readonly columns: readonly string[];
}

/** The sink the shell's queries write into: rows go to the shell, not to a connector. */
export const RESULT_TABLE = '_shell_query';

/** A statement's text in a script of the session, with the line it starts on (1-based). */
interface Placed {
  readonly text: string;
  readonly line: number;
  /** The entry it came from, or undefined for the statement being run. */
  readonly entry?: SessionEntry;
}

/** A script of the session's statements followed by one more, and where each is in it. */
export interface SessionScript {
  readonly text: string;
  readonly parts: readonly Placed[];
}

/** The shell's own SET keys, Flink's names. */
export const SHELL_KEYS = {
  resultMode: 'sql-client.execution.result-mode',
} as const;

export class Session {
  readonly #entries: SessionEntry[] = [];
  /** The script's file name: relative paths in WITH options resolve against its folder. */
  readonly file: string;
  resultMode: ResultMode = 'table';

  constructor(cwd: string) {
    this.file = resolve(cwd, 'shell.sql');
  }

  get entries(): readonly SessionEntry[] {
    return this.#entries;
  }

  /** The entry named `name` (a table, view or model). */
  find(name: string): SessionEntry | undefined {
    return this.#entries.find((e) => e.kind !== 'set' && e.name === name);
  }

  /** Every table, view and model name. */
  names(): string[] {
    return this.#entries.filter((e) => e.kind !== 'set').map((e) => e.name);
  }

  /** Adds a CREATE TABLE / VIEW / MODEL after checking its name is free. */
  add(entry: SessionEntry): void {
    if (this.find(entry.name) !== undefined)
      throw new ShellError(
        `'${entry.name}' is already a table, view or model; DROP it first to create it again`,
      );
    this.#entries.push(entry);
  }

  /** Removes a table, view or model; false when there is none by that name. */
  drop(name: string): boolean {
    const at = this.#entries.findIndex((e) => e.kind !== 'set' && e.name === name);
    if (at < 0) return false;
    this.#entries.splice(at, 1);
    return true;
  }

  /** Sets a key: the shell's own keys change the shell, the others go into every script. */
  set(key: string, value: string, text: string): void {
    if (key === SHELL_KEYS.resultMode) {
      const mode = value.toLowerCase();
      if (!(RESULT_MODES as readonly string[]).includes(mode))
        throw new ShellError(`'${value}' is no result mode; choose ${RESULT_MODES.join(', ')}`);
      this.resultMode = mode as ResultMode;
      return;
    }
    this.reset(key);
    this.#entries.push({ kind: 'set', name: key, text, columns: [] });
  }

  /** Forgets a SET (or all of them with no key); the result mode goes back to `table`. */
  reset(key?: string): void {
    if (key === undefined || key === SHELL_KEYS.resultMode) this.resultMode = 'table';
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i];
      if (e.kind === 'set' && (key === undefined || e.name === key)) this.#entries.splice(i, 1);
    }
  }

  /** The SETs in force, the shell's own included, as key and value. */
  settings(): [string, string][] {
    const sets = this.#entries
      .filter((e) => e.kind === 'set')
      .map((e): [string, string] => {
        const parsed = parseSql(e.text, this.file)[0];
        return [e.name, parsed?.kind === 'set' ? parsed.value : ''];
      });
    return [[SHELL_KEYS.resultMode, this.resultMode], ...sets];
  }

  /**
   * The session's statements, then `prefix` (whole lines, such as `INSERT INTO … \n`) and `last`,
   * which starts on a line of its own.
   */
  script(last: string, prefix = ''): SessionScript {
    const parts: Placed[] = [];
    let text = '';
    let line = 1;
    const push = (statement: string, entry?: SessionEntry) => {
      parts.push({ text: statement, line, ...(entry ? { entry } : {}) });
      text += `${statement};\n`;
      line += statement.split('\n').length;
    };
    for (const e of this.#entries) push(e.text, e);
    text += prefix;
    line += prefix.split('\n').length - 1;
    push(last);
    return { text, parts };
  }

  /** A registry with the connector packages the script names, plus `extra`. */
  async registry(script: string, extra?: Parameters<Registry['register']>[0]): Promise<Registry> {
    const registry = await registryFor(connectorTypesInSql(script, this.file));
    if (extra) registry.register(extra);
    return registry;
  }

  /**
   * The plan of a query whose rows go to the shell's result sink (of type `sink`, registered in
   * `registry`), resolved, with the query's columns (from the plan's schema of the sink's input).
   */
  planQuery(script: SessionScript, registry: Registry, sink: string): { plan: Plan; columns: string[] } {
    const plan = compileQuery(script.text, this.file, { registry, into: RESULT_TABLE, sink });
    const resolved = resolvePlan(plan, registry);
    const input = resolved.sinks.find((s) => s.id === RESULT_TABLE)?.input;
    const schema = input === undefined ? undefined : resolved.schemas?.[input];
    return { plan, columns: schema?.fields.map((f) => f.name) ?? [] };
  }

  /** The plan of an INSERT INTO (or a statement set), to run as a job. */
  planInsert(script: SessionScript, registry: Registry): Plan {
    return compileSql(script.text, this.file, { registry });
  }

  /** The text of an EXPLAIN of a query (`EXPLAIN INSERT INTO <RESULT_TABLE> …`, the shell's rows). */
  explainQuery(script: SessionScript, registry: Registry, sink: string): string {
    return explainQuery(script.text, this.file, { registry, into: RESULT_TABLE, sink });
  }

  /** The text of an EXPLAIN of an INSERT or statement set. */
  explain(script: SessionScript, registry: Registry): string {
    return explainSql(script.text, this.file, { registry })?.text ?? '';
  }

  /** The suggestion for an unknown SET key, or undefined when the key is known. */
  static unknownKey(key: string, known: readonly string[]): string | undefined {
    const all = [SHELL_KEYS.resultMode, ...known];
    if (all.includes(key)) return undefined;
    const guess = didYouMean(key, all);
    return `'${key}' is no setting${guess ? ` — did you mean '${guess}'?` : ''}; the settings are ${all.map((k) => `'${k}'`).join(', ')}`;
  }
}

/** A statement the shell refuses, in words; no position. */
export class ShellError extends Error {
  override readonly name = 'ShellError';
}

/** Parses one statement on its own (its text without `;`). */
export function parseOne(text: string, file: string): Statement {
  const statements = parseSql(text, file);
  if (statements.length !== 1) throw new ShellError(`expected one statement, found ${statements.length}`);
  return statements[0];
}
