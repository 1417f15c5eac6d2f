/**
 * The views of the running jobs of this process, by pipeline and name: the `view` sink registers
 * its table when it opens, and `serve` looks the tables of its job up here. A job that is
 * restarted in the same process replaces its tables.
 */

import type { ViewTable } from './view-table.ts';

const tables = new Map<string, ViewTable>();

const id = (pipeline: string, name: string) => `${pipeline}\u0000${name}`;

/** Makes `table` the view `table.name` of `pipeline`. */
export function registerView(pipeline: string, table: ViewTable): void {
  tables.set(id(pipeline, table.name), table);
}

/** The view `name` of pipeline `pipeline`, once its sink has opened. */
export function viewTable(pipeline: string, name: string): ViewTable | undefined {
  return tables.get(id(pipeline, name));
}

/** Forgets the views of `pipeline` (when its server closes). */
export function forgetViews(pipeline: string, names: readonly string[]): void {
  for (const name of names) tables.delete(id(pipeline, name));
}
