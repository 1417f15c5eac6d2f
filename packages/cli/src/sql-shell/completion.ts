/**
 * Tab completion: SQL keywords, the shell's commands, and the table, view, model, column and
 * function names the session knows (a table created a moment ago completes at once).
 */

import { aggregateDocs, functionDocs } from '@sluice/core';
import { setKeys } from '@sluice/sql';
import { type Session, SHELL_KEYS } from './session.ts';

/** Keywords of the statements the shell runs. */
// biome-ignore format: a list of words
const KEYWORDS = [
  'SELECT', 'FROM', 'WHERE', 'GROUP', 'BY', 'HAVING', 'AS', 'AND', 'OR', 'NOT', 'NULL', 'IS', 'IN',
  'LIKE', 'BETWEEN', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'DISTINCT', 'UNION', 'ALL', 'WITH',
  'JOIN', 'INNER', 'LEFT', 'RIGHT', 'FULL', 'OUTER', 'ON', 'OVER', 'PARTITION', 'ORDER', 'ASC', 'DESC',
  'TABLE', 'TUMBLE', 'HOP', 'SESSION', 'CUMULATE', 'DESCRIPTOR', 'INTERVAL', 'SECOND', 'MINUTE',
  'HOUR', 'DAY', 'CREATE', 'TEMPORARY', 'VIEW', 'MODEL', 'INPUT', 'OUTPUT', 'WATERMARK', 'FOR',
  'PRIMARY', 'KEY', 'ENFORCED', 'METADATA', 'VIRTUAL', 'INSERT', 'INTO', 'EXECUTE', 'STATEMENT',
  'SET', 'BEGIN', 'EXPLAIN', 'PLAN', 'SYSTEM_TIME', 'OF', 'STRING', 'BIGINT', 'INT', 'DOUBLE',
  'BOOLEAN', 'TIMESTAMP', 'DECIMAL', 'ROW', 'ML_PREDICT', 'ML_SCORE', 'SHOW', 'TABLES', 'VIEWS',
  'MODELS', 'FUNCTIONS', 'JOBS', 'STOP', 'JOB', 'DESCRIBE', 'DROP', 'RESET', 'QUIT', 'EXIT', 'HELP',
  'CLEAR', 'MATCH_RECOGNIZE', 'MEASURES', 'ONE', 'PER', 'MATCH', 'AFTER', 'SKIP', 'PAST', 'LAST',
  'NEXT', 'TO', 'FIRST', 'PATTERN', 'WITHIN', 'DEFINE', 'PREV', 'MATCH_ROWTIME',
] as const;

/** Every function name an expression may call, scalar and aggregate, lower-case. */
export const FUNCTIONS: readonly string[] = [
  ...new Set([...functionDocs.map((f) => f.name), ...aggregateDocs.map((a) => a.name)]),
]
  .map((n) => n.toLowerCase())
  .sort();

/**
 * The candidates for the word before the cursor in `line`, as node:readline's completer returns
 * them: the matches and the word they complete. After `name.` only the columns of that table
 * or view; after SET, the setting keys.
 */
export function complete(session: Session, line: string): [string[], string] {
  const quoted = /'([\w.-]*)$/.exec(line);
  if (quoted !== null && /\bSET\s+'[\w.-]*$/i.test(line)) {
    const keys = [SHELL_KEYS.resultMode, ...setKeys].filter((k) => k.startsWith(quoted[1]));
    return [keys.map((k) => `${k}'`), quoted[1]];
  }
  const match = /([A-Za-z_][\w$]*\.)?([A-Za-z_][\w$]*)?$/.exec(line);
  const qualifier = match?.[1]?.slice(0, -1);
  const word = match?.[2] ?? '';
  if (qualifier !== undefined) {
    const table = session.find(qualifier) ?? session.find(aliasTarget(line, qualifier) ?? '');
    const columns = table?.columns ?? allColumns(session);
    const hits = columns.filter((c) => c.toLowerCase().startsWith(word.toLowerCase()));
    return [hits, word];
  }
  if (word === '') return [[], word];
  const lower = word.toLowerCase();
  const upper = word === word.toUpperCase() && /[A-Z]/.test(word);
  const keywords = KEYWORDS.filter((k) => k.startsWith(word.toUpperCase())).map((k) =>
    upper ? k : k.toLowerCase(),
  );
  const names = [...session.names(), ...allColumns(session)].filter((n) => n.toLowerCase().startsWith(lower));
  const functions = FUNCTIONS.filter((f) => f.startsWith(lower)).map((f) => (upper ? f.toUpperCase() : f));
  const hits = [...new Set([...names, ...functions, ...keywords])];
  return [hits, word];
}

/** The columns of every table and view of the session, without repeats. */
function allColumns(session: Session): string[] {
  return [
    ...new Set(
      session.entries.filter((e) => e.kind === 'table' || e.kind === 'view').flatMap((e) => e.columns),
    ),
  ];
}

/** The table an alias stands for in `line` (`FROM bids AS b` or `JOIN bids b`), if written there. */
function aliasTarget(line: string, alias: string): string | undefined {
  const re = new RegExp(`\\b(?:FROM|JOIN|TABLE)\\s+([A-Za-z_][\\w$]*)\\s+(?:AS\\s+)?${alias}\\b`, 'i');
  return re.exec(line)?.[1];
}
