/**
 * `sluice query <pipeline> "<sql>"`: read-only SQL over the database a pipeline's `duckdb` sink
 * writes, answered by the running pipeline (its sink's query server) or, when none runs, by the
 * file opened read-only; printed as a table, or as JSON lines with `--json`.
 */

import { join, resolve } from 'node:path';
import { SluiceError } from '@sluice/core';
import { explain } from './explain.ts';
import { loadPlugin, loadWithPlugins } from './plugins.ts';

interface QueryModule {
  queryDuckdb(
    path: string,
    stateDir: string,
    sql: string,
  ): Promise<{ columns: string[]; rows: { [c: string]: unknown }[]; via: string }>;
}

export async function queryCommand(file: string, sql: string, options: { sink?: string; json?: boolean }) {
  try {
    const { plan } = await loadWithPlugins(file);
    const sinks = plan.sinks.filter(
      (s) => s.type === 'duckdb' && (options.sink === undefined || s.id === options.sink),
    );
    if (sinks.length !== 1)
      throw new SluiceError(
        'CONFIG_INVALID',
        sinks.length === 0
          ? `pipeline '${plan.name}' has no duckdb sink${options.sink ? ` named ${options.sink}` : ''}`
          : `pipeline '${plan.name}' has several duckdb sinks (${sinks.map((s) => s.id).join(', ')}): choose one with --sink`,
      );
    const sink = sinks[0];
    const config = sink.config as { path: string };
    const path = config.path === ':memory:' ? config.path : resolve(plan.baseDir, config.path);
    // The job's checkpoint folder (`<checkpoint dir>/<pipeline>`); the sink's state folder is inside it.
    const dir = join(resolve(plan.baseDir, plan.settings.checkpoint.dir), plan.name);
    await loadPlugin('@sluice/duckdb', ['duckdb']);
    const { queryDuckdb } = (await import('@sluice/duckdb')) as QueryModule;
    const result = await queryDuckdb(path, join(dir, 'sinks', sink.id), sql);
    process.stdout.write(options.json ? jsonLines(result.rows) : table(result.columns, result.rows));
    return 0;
  } catch (err) {
    process.stderr.write(explain(err, file));
    return 1;
  }
}

function jsonLines(rows: { [c: string]: unknown }[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** The rows as an aligned text table with a header, and the row count. */
export function table(columns: string[], rows: { [c: string]: unknown }[]): string {
  const text = (v: unknown) =>
    v === null || v === undefined ? 'NULL' : typeof v === 'string' ? v : JSON.stringify(v);
  const cells = rows.map((r) => columns.map((c) => text(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) => `${values.map((v, i) => v.padEnd(widths[i])).join(' | ')}`.trimEnd();
  const out = [line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.map(line)];
  return `${out.join('\n')}\n(${rows.length} row${rows.length === 1 ? '' : 's'})\n`;
}
