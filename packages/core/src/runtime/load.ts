/**
 * Loading a pipeline file: YAML, or a TypeScript/JavaScript module whose default export is a
 * pipeline built with the fluent API.
 */

import { dirname, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SluiceError } from '../errors.ts';
import type { Plan } from '../plan/plan.ts';
import type { Registry } from '../registry.ts';
import { loadPipelineFile } from '../yaml/index.ts';

/** A plan plus the functions of its TypeScript-API steps. */
export interface LoadedPipeline {
  plan: Plan;
  functions: ReadonlyMap<string, unknown>;
}

interface Buildable {
  build(defaultBaseDir?: string): LoadedPipeline;
}

function isBuildable(value: unknown): value is Buildable {
  return typeof value === 'object' && value !== null && typeof (value as Buildable).build === 'function';
}

/** Loads `file` (`.yaml`/`.yml`, or `.ts`/`.js`/`.mjs` with a default-exported pipeline). */
export async function loadPipeline(file: string, registry: Registry): Promise<LoadedPipeline> {
  const path = resolve(file);
  const ext = extname(path).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') {
    return { plan: await loadPipelineFile(path, { registry }), functions: new Map() };
  }
  if (ext === '.ts' || ext === '.js' || ext === '.mjs' || ext === '.mts') {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
    } catch (err) {
      const message = (err as Error).message;
      // `npm init` writes "type": "commonjs", where Node reads a .ts/.js file as CommonJS.
      const hint = /import statement outside a module|Unexpected token 'export'/.test(message)
        ? `; ${file} is an ES module: set "type": "module" in the package.json of its project, or name it ${ext === '.ts' ? '.mts' : '.mjs'}`
        : '';
      throw new SluiceError('PIPELINE_LOAD', `cannot load ${file}: ${message}${hint}`, {
        file,
        cause: err,
      });
    }
    if (!isBuildable(mod.default)) {
      throw new SluiceError(
        'PIPELINE_LOAD',
        `${file} must default-export a pipeline: \`export default pipeline('name').from(...)...to(...)\``,
        { file },
      );
    }
    return mod.default.build(dirname(path));
  }
  throw new SluiceError('PIPELINE_LOAD', `${file}: expected a .yaml, .yml, .ts or .js pipeline file`, {
    file,
  });
}
