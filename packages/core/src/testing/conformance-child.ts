/**
 * The process the conformance suites kill with SIGKILL: runs one pipeline (its YAML in argv[2]
 * as JSON `{ yaml, file, plugins }`) with the built-ins, the testing components and the plugins
 * of the named packages, restoring the newest checkpoint of its folder. Stops gracefully on
 * SIGTERM; prints the job's result as one JSON line on stdout when it ends.
 */

import { builtins } from '../builtins.ts';
import { Registry } from '../registry.ts';
import { Job } from '../runtime/job.ts';
import type { Plugin } from '../spec.ts';
import { parsePipelineYaml } from '../yaml/load.ts';
import { testing } from './memory.ts';

/** What the parent passes: the pipeline, the file it is said to be in, the packages it needs. */
export interface ChildRun {
  readonly yaml: string;
  readonly file: string;
  readonly plugins: readonly string[];
}

async function pluginOf(specifier: string): Promise<Plugin> {
  const mod = (await import(specifier)) as { [name: string]: unknown };
  const plugin = Object.values(mod).find(
    (v): v is Plugin => typeof v === 'object' && v !== null && Array.isArray((v as Plugin).components),
  );
  if (!plugin) throw new Error(`${specifier} exports no Sluice plugin`);
  return plugin;
}

async function main(): Promise<void> {
  const run = JSON.parse(process.argv[2] ?? '{}') as ChildRun;
  // The built-ins are always there: `@sluice/core` names them.
  const plugins = await Promise.all(run.plugins.filter((p) => p !== '@sluice/core').map(pluginOf));
  const registry = new Registry([builtins, testing, ...plugins]);
  const plan = parsePipelineYaml(run.yaml, run.file, { registry });
  const job = await Job.create(plan, { registry, tickInterval: 10 });
  process.on('SIGTERM', () => job.stop());
  const result = await job.run();
  process.stdout.write(`${JSON.stringify({ status: result.status, metrics: result.metrics })}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
