/**
 * Loading a pipeline file: YAML, or a TypeScript/JavaScript module whose default export is a
 * pipeline built with the fluent API.
 */

import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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

/**
 * What a pipeline file holds, by extension: YAML, or a module (TypeScript or JavaScript) whose
 * default export is a pipeline built with the fluent API. Every extension-based decision about
 * pipeline files reads this table.
 */
export const pipelineFileKinds: { readonly [ext: string]: 'yaml' | 'module' } = {
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.ts': 'module',
  '.mts': 'module',
  '.js': 'module',
  '.mjs': 'module',
};

/** What pipeline file `file` holds, by its extension (any case); undefined for another extension. */
export function pipelineFileKind(file: string): 'yaml' | 'module' | undefined {
  const ext = extname(file).toLowerCase();
  return Object.hasOwn(pipelineFileKinds, ext) ? pipelineFileKinds[ext] : undefined;
}

/** The pipeline file extensions as a phrase: `.yaml, .yml, .ts, .mts, .js or .mjs`. */
export function pipelineFileExtensions(): string {
  const exts = Object.keys(pipelineFileKinds);
  return `${exts.slice(0, -1).join(', ')} or ${exts[exts.length - 1]}`;
}

/** Loads `file`: see `pipelineFileKinds`. */
export async function loadPipeline(file: string, registry: Registry): Promise<LoadedPipeline> {
  const path = resolve(file);
  const ext = extname(path).toLowerCase();
  const kind = pipelineFileKind(path);
  if (kind === 'yaml') {
    return { plan: await loadPipelineFile(path, { registry }), functions: new Map() };
  }
  if (kind === 'module') {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
    } catch (err) {
      const message = (err as Error).message;
      // `npm init` writes "type": "commonjs", where Node reads a .ts/.js file as CommonJS.
      const hint = /import statement outside a module|Unexpected token 'export'/.test(message)
        ? `; ${file} is an ES module: set "type": "module" in the package.json of its project, or name it ${ext === '.ts' ? '.mts' : '.mjs'}`
        : '';
      throw (
        syntaxError(err, hint) ??
        new SluiceError('PIPELINE_LOAD', `cannot load ${file}: ${message}${hint}`, {
          file,
          cause: err,
        })
      );
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
  throw new SluiceError('PIPELINE_LOAD', `${file}: expected a ${pipelineFileExtensions()} pipeline file`, {
    file,
  });
}

/**
 * A syntax error of a module (the pipeline or one it imports) as PIPELINE_LOAD at its file, line
 * and column, read from the first lines of the stack Node gives it (`/x.ts:2` or `file:///x.ts:2`, source
 * lines, carets under the column), with `extra` at the end of the message; undefined for any
 * other error.
 */
function syntaxError(err: unknown, extra = ''): SluiceError | undefined {
  if (!(err instanceof SyntaxError) || typeof err.stack !== 'string') return undefined;
  const [where, ...snippet] = err.stack.split('\n');
  const at = /^(.+):(\d+)$/.exec(where ?? '');
  if (at === null || !(at[1].startsWith('file://') || isAbsolute(at[1]))) return undefined;
  const carets = snippet.slice(0, 5).find((line) => /^\s*\^+\s*$/.test(line));
  const caret = carets?.indexOf('^') ?? -1;
  const code = (err as { code?: unknown }).code;
  const hint =
    code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX'
      ? '; Node runs .ts pipelines by erasing their types, so write erasable syntax only (no enum, namespace or parameter properties)'
      : '';
  return new SluiceError('PIPELINE_LOAD', `syntax error: ${err.message}${hint}${extra}`, {
    file: at[1].startsWith('file://') ? fileURLToPath(at[1]) : at[1],
    line: Number(at[2]),
    ...(caret >= 0 ? { column: caret + 1 } : {}),
    cause: err,
  });
}
