/**
 * Type-checking a TypeScript pipeline for `sluice validate` with the TypeScript compiler of the
 * pipeline's own project.
 *
 * The compiler is the `typescript` package resolved from the pipeline's folder (as the project's
 * own `tsc` and editor would find it), else the one installed beside sluice. The check runs that
 * package's `tsc` on the pipeline file and what it imports, under the nearest `tsconfig.json`
 * (through a temporary config that extends it and names only the pipeline), or under defaults
 * that match how Node runs a `.ts` file when there is none.
 */

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ConfigErrors, SluiceError } from '@sluice/core';

/** A TypeScript compiler found for a pipeline. */
export interface Compiler {
  /** The `tsc` script of the package, run with the Node that runs sluice. */
  readonly tsc: string;
  readonly version: string;
  /** The folder of the `typescript` package. */
  readonly dir: string;
}

/** Most type errors reported; the rest are counted. */
const maxReported = 20;

/**
 * Finds the `typescript` package for a pipeline in `pipelineDir`: resolved from that folder up
 * (the project's own), else from each of `fallbacks` in turn (by default, beside sluice).
 * Undefined when none is installed.
 */
export function findCompiler(
  pipelineDir: string,
  fallbacks: readonly string[] = [import.meta.dirname],
): Compiler | undefined {
  for (const from of [pipelineDir, ...fallbacks]) {
    let manifest: string;
    try {
      manifest = createRequire(join(from, 'noop.js')).resolve('typescript/package.json');
    } catch {
      continue;
    }
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string; bin?: unknown };
    const bin = typeof pkg.bin === 'string' ? pkg.bin : (pkg.bin as { tsc?: string } | undefined)?.tsc;
    if (typeof bin !== 'string') continue;
    const dir = dirname(manifest);
    return { tsc: resolve(dir, bin), version: pkg.version ?? 'unknown', dir };
  }
  return undefined;
}

/** The error `validate` reports when no compiler is installed. */
export function noCompilerError(file: string): SluiceError {
  return new SluiceError(
    'PIPELINE_LOAD',
    `cannot type-check ${basename(file)}: no TypeScript compiler found — the package 'typescript' is not installed in ${dirname(file)} or a folder above it, nor beside sluice. Install it in the pipeline's project (npm install --save-dev typescript), or run \`sluice validate --no-type-check\` to skip the check`,
    { file },
  );
}

/** The nearest `tsconfig.json` in `dir` or a folder above it. */
export function nearestTsconfig(dir: string): string | undefined {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const candidate = join(d, 'tsconfig.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(d) === d) return undefined;
  }
}

/**
 * Options when the project has no tsconfig.json: strict, and modules as Node runs a `.ts`
 * pipeline (ES modules, `.ts` extensions in imports, types erased). Node's types are used when
 * `@types/node` is installed.
 */
function defaultOptions(pipelineDir: string): { [option: string]: unknown } {
  let nodeTypes = false;
  try {
    createRequire(join(pipelineDir, 'noop.js')).resolve('@types/node/package.json');
    nodeTypes = true;
  } catch {}
  return {
    strict: true,
    target: 'esnext',
    lib: ['esnext'],
    module: 'esnext',
    moduleResolution: 'bundler',
    allowImportingTsExtensions: true,
    resolveJsonModule: true,
    skipLibCheck: true,
    ...(nodeTypes ? { types: ['node'] } : {}),
  };
}

/**
 * Type-checks `file` with `compiler`: returns the type errors (at most 20, then one saying how
 * many more), each PLAN_TYPE_ERROR at its file, line and column. Writes a temporary config
 * beside the project's tsconfig.json (or beside the pipeline) and removes it, also on SIGINT or
 * SIGTERM (then exits 130 or 143). Throws
 * PIPELINE_LOAD when the compiler cannot run.
 */
export async function typeCheck(file: string, compiler: Compiler): Promise<SluiceError[]> {
  const pipeline = resolve(file);
  const tsconfig = nearestTsconfig(dirname(pipeline));
  const dir = tsconfig ? dirname(tsconfig) : dirname(pipeline);
  const config = join(dir, `.sluice-typecheck-${process.pid}.tsconfig.json`);
  const compilerOptions = {
    ...(tsconfig ? {} : defaultOptions(dirname(pipeline))),
    noEmit: true,
    emitDeclarationOnly: false,
    incremental: false,
    composite: false,
    tsBuildInfoFile: null,
  };
  const content = {
    ...(tsconfig ? { extends: `./${basename(tsconfig)}` } : {}),
    files: [`./${relative(dir, pipeline).split('\\').join('/')}`],
    include: [],
    compilerOptions,
  };
  // Ctrl-C during the check must not leave the temporary config in the user's project.
  const interrupted = (signal: NodeJS.Signals) => {
    rmSync(config, { force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let output: { code: number | null; stdout: string; stderr: string };
  try {
    await writeFile(config, `${JSON.stringify(content, null, 2)}\n`);
    output = await run(process.execPath, [compiler.tsc, '-p', config, '--pretty', 'false'], dir);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await rm(config, { force: true });
  }
  const errors = parseDiagnostics(output.stdout, dir, config);
  if (output.code !== 0 && errors.length === 0) {
    throw new SluiceError(
      'PIPELINE_LOAD',
      `the TypeScript compiler (${compiler.tsc}) failed: ${(output.stderr || output.stdout).trim() || `exit code ${output.code}`}`,
      { file: pipeline },
    );
  }
  if (errors.length <= maxReported) return errors;
  const more = errors.length - maxReported;
  return [
    ...errors.slice(0, maxReported),
    new SluiceError('PLAN_TYPE_ERROR', `… and ${more} more type error(s); run tsc for the full list`, {
      file: pipeline,
    }),
  ];
}

/** The type errors of a list, as one error for the CLI (a single one as it is). */
export function typeErrors(errors: readonly SluiceError[]): SluiceError {
  return errors.length === 1 ? errors[0] : new ConfigErrors(errors);
}

/**
 * Parses `tsc --pretty false` output: `file(line,col): error TS2551: message`, continued on
 * indented lines. Errors without a position, or in the temporary `config`, have no location.
 */
export function parseDiagnostics(stdout: string, cwd: string, config?: string): SluiceError[] {
  const errors: { file?: string; line?: number; column?: number; code: string; text: string }[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const located = /^(.+)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
    const global = located ? null : /^error (TS\d+): (.*)$/.exec(line);
    if (located) {
      const [, path, l, c, code, text] = located;
      errors.push({ file: resolve(cwd, path), line: Number(l), column: Number(c), code, text });
    } else if (global) {
      errors.push({ code: global[1], text: global[2] });
    } else if (/^\s+\S/.test(line) && errors.length > 0) {
      errors[errors.length - 1].text += ` ${line.trim()}`;
    }
  }
  return errors.map(({ file, line, column, code, text }) => {
    const where = file === undefined || file === config ? {} : { file, line, column };
    return new SluiceError('PLAN_TYPE_ERROR', `${text} [${code}]`, where);
  });
}

function run(
  command: string,
  args: readonly string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}
