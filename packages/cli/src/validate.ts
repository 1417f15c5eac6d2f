/**
 * `sluice validate` and `sluice describe`.
 */

import { dirname, resolve } from 'node:path';
import { type ComponentSpec, describeComponent, didYouMean, Job } from '@sluice/core';
import { explain } from './explain.ts';
import { explainScript, installedRegistry, loadWithPlugins } from './plugins.ts';
import { findCompiler, noCompilerError, typeCheck, typeErrors } from './typecheck.ts';

/**
 * Checks a pipeline file fully (configs, expressions, schemas) without reading any input. A
 * TypeScript pipeline is first type-checked with the project's TypeScript compiler (see
 * `typecheck.ts`), unless `typeCheck` is false.
 */
export async function validateCommand(file: string, options: { typeCheck: boolean }): Promise<number> {
  try {
    const checked = isTypeScript(file) ? await checkTypes(file, options.typeCheck) : '';
    const shown = await explainScript(file);
    if (shown !== undefined) process.stdout.write(shown.text);
    if (shown?.only) return 0;
    const { plan, functions, registry } = await loadWithPlugins(file);
    await Job.validate(plan, { registry, functions });
    process.stdout.write(
      `${file}: ok — pipeline '${plan.name}': ${plan.sources.length} source(s), ${plan.steps.length} step(s), ${plan.sinks.length} sink(s)${checked}\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(explain(err, file));
    return 1;
  }
}

function isTypeScript(file: string): boolean {
  return /\.[mc]?ts$/i.test(file);
}

/** Type-checks a TypeScript pipeline; returns what the ok line says about it, throws its type errors. */
async function checkTypes(file: string, enabled: boolean): Promise<string> {
  if (!enabled) return ' (not type-checked: --no-type-check)';
  const compiler = findCompiler(dirname(resolve(file)));
  if (compiler === undefined) throw noCompilerError(resolve(file));
  const errors = await typeCheck(file, compiler);
  if (errors.length > 0) throw typeErrors(errors);
  return `; type-checked with TypeScript ${compiler.version}`;
}

/** Lists components, or prints one component's reference. */
export async function describeCommand(type: string | undefined): Promise<number> {
  const registry = await installedRegistry();
  const all = registry.all();
  if (type === undefined) {
    const groups: [string, ComponentSpec['kind']][] = [
      ['Sources', 'source'],
      ['Steps', 'step'],
      ['Sinks', 'sink'],
      ['Lookups (the `table` of a `lookup` step)', 'lookup'],
    ];
    for (const [title, kind] of groups) {
      process.stdout.write(`${title}:\n`);
      for (const spec of all.filter((s) => s.kind === kind))
        process.stdout.write(`  ${spec.type.padEnd(14)} ${spec.summary}\n`);
    }
    process.stdout.write('\nRun `sluice describe <type>` for the options of one.\n');
    return 0;
  }
  const matches = all.filter((s) => s.type === type);
  if (matches.length === 0) {
    const guess = didYouMean(
      type,
      all.map((s) => s.type),
    );
    process.stderr.write(
      guess
        ? `sluice: no component '${type}' — did you mean '${guess}'? Run \`sluice describe\` for the list\n`
        : `sluice: no component '${type}'; run \`sluice describe\` for the list\n`,
    );
    return 1;
  }
  for (const spec of matches) process.stdout.write(`${describeComponent(spec)}\n`);
  return 0;
}
