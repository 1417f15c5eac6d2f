/**
 * Loading connector packages on demand: the CLI imports `@sluice/<connector>` only when a
 * pipeline names one of its component types, and says which package to install when it is
 * missing.
 */

import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import {
  builtins,
  type LoadedPipeline,
  loadPipeline,
  type Plugin,
  pipelineFileKind,
  Registry,
  SluiceError,
} from '@sluice/core';
import { compileSql, connectorTypesInSql, explainSql, readScript } from '@sluice/sql';
import { parse } from 'yaml';
import { connectorCatalogue } from './connector-catalogue.ts';

/** Every `type:` value in a YAML pipeline (sources, steps, sinks, dead_letter, late_output). */
export function typesInYaml(text: string): Set<string> {
  const types = new Set<string>();
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return types; // the loader reports syntax errors with their position
  }
  const visit = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      const type = (node as { type?: unknown }).type;
      if (typeof type === 'string') types.add(type);
      for (const value of Object.values(node)) if (typeof value === 'object') visit(value);
    }
  };
  visit(doc);
  return types;
}

/** Imports a connector package and returns its plugin; says what to install when it is missing. */
export async function loadPlugin(pkg: string, needed: readonly string[]): Promise<Plugin> {
  let mod: { [name: string]: unknown };
  try {
    mod = (await import(pkg)) as { [name: string]: unknown };
  } catch (err) {
    throw new SluiceError(
      'PIPELINE_LOAD',
      `the pipeline uses '${needed.join("', '")}', which needs the package ${pkg}: run \`npm install ${pkg}\``,
      { cause: err },
    );
  }
  const plugin = Object.values(mod).find(
    (v): v is Plugin => typeof v === 'object' && v !== null && Array.isArray((v as Plugin).components),
  );
  if (!plugin) throw new SluiceError('PIPELINE_LOAD', `${pkg} exports no Sluice plugin`);
  return plugin;
}

/** A registry with the built-ins plus the connector packages the named types need. */
export async function registryFor(types: Iterable<string>): Promise<Registry> {
  const registry = new Registry([builtins]);
  const wanted = new Set(types);
  for (const { pkg, types: provided } of connectorCatalogue) {
    const needed = provided.filter((t) => wanted.has(t));
    if (needed.length > 0) registry.register(await loadPlugin(pkg, needed));
  }
  return registry;
}

/** Whether `file` is a SQL script (`.sql`), which `@sluice/sql` compiles to a plan. */
export function isSqlScript(file: string): boolean {
  return extname(file).toLowerCase() === '.sql';
}

/**
 * What the `EXPLAIN` statements of a SQL script print, and whether the script has nothing else to
 * run; undefined for a pipeline file that is no SQL script, or a script without EXPLAIN.
 */
export async function explainScript(file: string): Promise<{ text: string; only: boolean } | undefined> {
  if (!isSqlScript(file)) return undefined;
  const text = await readScript(file);
  const registry = await registryFor(connectorTypesInSql(text, file));
  return explainSql(text, resolve(file), { registry });
}

/** Loads a pipeline file with a registry holding the connector packages it names. */
export async function loadWithPlugins(file: string): Promise<LoadedPipeline & { registry: Registry }> {
  if (isSqlScript(file)) {
    const text = await readScript(file);
    const registry = await registryFor(connectorTypesInSql(text, file));
    return { plan: compileSql(text, resolve(file), { registry }), functions: new Map(), registry };
  }
  if (pipelineFileKind(file) === 'yaml') {
    const text = await readFile(file, 'utf8').catch(() => '');
    const registry = await registryFor(typesInYaml(text));
    return { ...(await loadPipeline(file, registry)), registry };
  }
  // A TypeScript pipeline is built first; its plan then names the types it needs.
  const loaded = await loadPipeline(file, new Registry([builtins]));
  const { plan } = loaded;
  const types = [
    ...plan.sources.map((s) => s.type),
    ...plan.steps.map((s) => s.type),
    ...plan.sinks.map((s) => s.type),
    ...(plan.deadLetter ? [plan.deadLetter.type] : []),
    ...(plan.lateOutput ? [plan.lateOutput.type] : []),
  ];
  return { ...loaded, registry: await registryFor(types) };
}

/** The built-ins plus every connector package that is installed (for `sluice describe`). */
export async function installedRegistry(): Promise<Registry> {
  const registry = new Registry([builtins]);
  for (const { pkg, types } of connectorCatalogue) {
    const plugin = await loadPlugin(pkg, types).catch(() => undefined);
    if (plugin) registry.register(plugin);
  }
  return registry;
}
