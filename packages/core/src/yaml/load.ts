/**
 * The YAML front end: a pipeline file in, a validated plan out.
 */

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SluiceError } from '../errors.ts';
import type { Plan } from '../plan/plan.ts';
import type { Registry } from '../registry.ts';
import { buildPlan } from './build-plan.ts';
import type { Env } from './interpolate.ts';
import { IssueList } from './issues.ts';
import { readYaml } from './read-yaml.ts';

export interface LoadOptions {
  /** The component types the pipeline may use. */
  registry: Registry;
  /** Variables for `${VAR}` interpolation; default `process.env`. */
  env?: Env;
}

/**
 * Parses and validates a pipeline file's text into a plan: configs validated against their
 * specs with defaults applied, step inputs resolved, durations in milliseconds, and
 * `plan.locations` giving the position of every value by path.
 *
 * `file` names the file in messages; relative paths resolve against its folder (`baseDir`).
 * Throws a `SluiceError` (CONFIG_PARSE, CONFIG_INVALID, PLAN_UNKNOWN_TYPE, PLAN_MISSING_INPUT or
 * PLAN_DUPLICATE_ID) with file, line, column and path, or a `ConfigErrors` when there are several.
 */
export function parsePipelineYaml(text: string, file: string, options: LoadOptions): Plan {
  const issues = new IssueList(file);
  const tree = readYaml(text, options.env ?? process.env, issues);
  const plan = tree && buildPlan({ registry: options.registry, issues, tree }, resolve(dirname(file)));
  issues.throwIfAny();
  if (plan === undefined)
    throw new SluiceError('INTERNAL', 'pipeline file gave no plan and no error', { file });
  return plan;
}

/** Reads a pipeline file and parses it with `parsePipelineYaml`; an unreadable file is CONFIG_PARSE. */
export async function loadPipelineFile(file: string, options: LoadOptions): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SluiceError('CONFIG_PARSE', `cannot read the pipeline file: ${(err as Error).message}`, {
      file,
      path: '',
      cause: err,
    });
  }
  return parsePipelineYaml(text, file, options);
}
