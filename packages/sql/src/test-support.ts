/**
 * Helpers of the SQL tests: compile a script, run its plan to the end of its bounded input, read
 * what its file sinks wrote, and summarize a plan in a few stable lines.
 */

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtins, Job, type Plan, Registry, resolvePlan, SluiceError } from '@sluice/core';
import { ml } from '@sluice/ml';
import { compileSql } from './index.ts';

/** The built-in components and the ML steps: what the golden scripts may name as connectors and models. */
export const registry = new Registry([builtins, ml]);

/** Compiles `text` (as file `file`) and resolves its plan, as `sluice validate` does. */
export function resolveSql(text: string, file: string): Plan {
  return resolvePlan(compileSql(text, file, { registry }), registry);
}

/** The parts of a resolved plan that say what it does, not where it was written (for same-plan tests). */
export function meaning(plan: Plan): Omit<Plan, 'locations' | 'name'> {
  const { locations: _locations, name: _name, ...rest } = plan;
  return rest;
}

/** One line per source, step and sink: id, type, what it reads and the config the planner wrote. */
export function planSummary(plan: Plan): string {
  const lines: string[] = [];
  for (const s of plan.sources) {
    const time = s.eventTime ? ` event_time ${JSON.stringify(s.eventTime)}` : '';
    lines.push(`source ${s.id}: ${s.type} ${JSON.stringify(s.config)}${time}`);
  }
  for (const s of plan.steps)
    lines.push(`step ${s.id}: ${s.type} <- ${s.inputs.join(', ')} ${JSON.stringify(s.config)}`);
  for (const s of plan.sinks) lines.push(`sink ${s.id}: ${s.type} <- ${s.input} ${JSON.stringify(s.config)}`);
  return `${lines.join('\n')}\n`;
}

/** Runs a plan until its bounded sources end. */
export async function runPlan(plan: Plan): Promise<void> {
  const job = await Job.create(plan, { registry });
  const result = await job.run();
  if (result.status !== 'completed') throw new Error(`the job ended ${result.status}`);
}

/** The lines every `.jsonl` file under `dir/out` holds, by file name. */
export function outputs(dir: string): { [file: string]: string[] } {
  const out = join(dir, 'out');
  const files: { [file: string]: string[] } = {};
  if (!existsSync(out)) return files;
  for (const f of readdirSync(out).sort()) {
    if (!f.endsWith('.jsonl')) continue;
    files[f] = readFileSync(join(out, f), 'utf8')
      .split('\n')
      .filter((l) => l !== '');
  }
  return files;
}

/** What a script's compilation or resolution throws, described with the file, line and column. */
export function errorOf(text: string, file: string): string {
  try {
    resolveSql(text, file);
  } catch (err) {
    if (err instanceof SluiceError) return err.describe();
    throw err;
  }
  throw new Error(`${file} compiled without an error`);
}

/** The rows each Debezium changelog leaves in its table, sorted. */
export function finalTables(written: { [file: string]: string[] }): { [file: string]: string[] } {
  const tables: { [file: string]: string[] } = {};
  for (const [file, lines] of Object.entries(written)) {
    const rows: string[] = [];
    for (const line of lines) {
      const change = JSON.parse(line) as { before: unknown; after: unknown };
      if (change.before !== null) {
        const at = rows.indexOf(JSON.stringify(change.before));
        assert.ok(at >= 0, `${file}: a change removes a row the table does not hold: ${line}`);
        rows.splice(at, 1);
      }
      if (change.after !== null) rows.push(JSON.stringify(change.after));
    }
    tables[file] = rows.sort();
  }
  return tables;
}
