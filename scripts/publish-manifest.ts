/**
 * The published form of a workspace package's package.json. In the repository, `exports` and
 * `imports` point at the TypeScript sources (`./src/x.ts`), which Node runs directly there; Node
 * never strips types under node_modules, so the published manifest points at what `tsc` emitted
 * (`./dist/x.js`, with `./dist/x.d.ts` for TypeScript).
 */

/** A package.json, as far as packaging reads it. */
export interface Manifest {
  name: string;
  exports?: ExportTarget;
  imports?: ExportTarget;
  bin?: string | { [name: string]: string };
  engines?: { [runtime: string]: string };
  scripts?: { [name: string]: string };
  devDependencies?: { [name: string]: string };
  [field: string]: unknown;
}

/** A value of `exports` or `imports`: a path, a list of fallbacks, or a map of subpaths or conditions. */
export type ExportTarget = string | null | ExportTarget[] | { [key: string]: ExportTarget };

/**
 * Source files that are not published, and not compiled for publishing: tests (`x.test.ts`),
 * test support (`test-registry.ts`, `engine-test-support.ts`) and benchmarks (`bench.ts`,
 * `sink-bench.ts`) — a file whose name has a `test` or `bench` word. The packages'
 * tsconfig.build.json exclude the same files.
 */
export function isUnpublishedSource(path: string): boolean {
  const words = path
    .slice(path.lastIndexOf('/') + 1)
    .replace(/\.ts$/, '')
    .split(/[-.]/);
  return words.includes('test') || words.includes('bench');
}

/**
 * Returns the manifest to publish: every `./src/x.ts` in `exports` and `imports` becomes
 * `{ types: './dist/x.d.ts', default: './dist/x.js' }`; subpaths whose source is unpublished test
 * support are left out; `scripts` and `devDependencies` (repository concerns) are dropped.
 * `built(path)` says whether the build wrote a file (relative to the package folder). A target
 * that was not built, a `bin` that is TypeScript, or a missing `engines.node` is an error naming
 * the package and the field.
 */
export function publishManifest(manifest: Manifest, built: (path: string) => boolean): Manifest {
  const { scripts: _scripts, devDependencies: _dev, ...published } = manifest;
  const where = (field: string) => `${manifest.name}: package.json ${field}`;
  const compiled = (target: ExportTarget, field: string): ExportTarget | undefined => {
    if (target === null) return null;
    if (typeof target === 'string') {
      const source = /^\.\/src\/(.+)\.ts$/.exec(target);
      if (!source) return target;
      if (isUnpublishedSource(target)) return undefined;
      const js = `./dist/${source[1]}.js`;
      const dts = `./dist/${source[1]}.d.ts`;
      for (const file of [js, dts]) {
        if (!built(file)) throw new Error(`${where(field)}: ${target} was not compiled to ${file}`);
      }
      return { types: dts, default: js };
    }
    if (Array.isArray(target)) {
      return target.flatMap((t, i) => compiled(t, `${field}[${i}]`) ?? []);
    }
    const out: { [key: string]: ExportTarget } = {};
    for (const [key, value] of Object.entries(target)) {
      const result = compiled(value, `${field}["${key}"]`);
      if (result !== undefined) out[key] = result;
    }
    return out;
  };
  if (manifest.exports !== undefined) {
    published.exports = compiled(manifest.exports, 'exports') ?? {};
  }
  if (manifest.imports !== undefined) {
    published.imports = compiled(manifest.imports, 'imports') ?? {};
  }
  const bins = typeof manifest.bin === 'string' ? [manifest.bin] : Object.values(manifest.bin ?? {});
  for (const bin of bins) {
    if (/\.[cm]?ts$/.test(bin)) {
      throw new Error(`${where('bin')}: ${bin} is TypeScript, which Node does not run under node_modules`);
    }
  }
  if (!manifest.engines?.node)
    throw new Error(`${where('engines')}: state the supported Node versions in engines.node`);
  return published;
}
