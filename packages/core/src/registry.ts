/**
 * The component registry: which source, sink, step and lookup types a runtime knows.
 *
 * Built explicitly from plugins — never by import side effect. The built-in components are
 * one plugin like any other.
 */

import { SluiceError } from './errors.ts';
import type { ComponentSpec, LookupSpec, Plugin, SinkSpec, SourceSpec, StepSpec } from './spec.ts';

export class Registry {
  readonly #sources = new Map<string, SourceSpec>();
  readonly #sinks = new Map<string, SinkSpec>();
  readonly #steps = new Map<string, StepSpec>();
  readonly #lookups = new Map<string, LookupSpec>();
  readonly #plugins = new Map<string, string>();

  constructor(plugins: readonly Plugin[] = []) {
    for (const plugin of plugins) this.register(plugin);
  }

  /** Adds a plugin's components; a type registered twice is a configuration error. */
  register(plugin: Plugin): this {
    for (const spec of plugin.components) {
      const table: Map<string, ComponentSpec> = this.#table(spec.kind);
      const key = `${spec.kind}:${spec.type}`;
      const owner = this.#plugins.get(key);
      if (owner !== undefined) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `${spec.kind} type '${spec.type}' is registered by both '${owner}' and '${plugin.name}'`,
        );
      }
      this.#plugins.set(key, plugin.name);
      table.set(spec.type, spec);
    }
    return this;
  }

  source(type: string): SourceSpec | undefined {
    return this.#sources.get(type);
  }

  sink(type: string): SinkSpec | undefined {
    return this.#sinks.get(type);
  }

  step(type: string): StepSpec | undefined {
    return this.#steps.get(type);
  }

  /** A lookup type: what a `lookup` step's `table: { type }` names. */
  lookup(type: string): LookupSpec | undefined {
    return this.#lookups.get(type);
  }

  /** Every registered component: sources, then steps, then sinks, then lookups, each sorted by type. */
  all(): ComponentSpec[] {
    const byType = (a: ComponentSpec, b: ComponentSpec) => a.type.localeCompare(b.type);
    return [
      ...[...this.#sources.values()].sort(byType),
      ...[...this.#steps.values()].sort(byType),
      ...[...this.#sinks.values()].sort(byType),
      ...[...this.#lookups.values()].sort(byType),
    ];
  }

  /** Names of registered types of one kind, for "did you mean" messages. */
  types(kind: ComponentSpec['kind']): string[] {
    return [...this.#table(kind).keys()].sort();
  }

  #table(kind: ComponentSpec['kind']): Map<string, ComponentSpec> {
    switch (kind) {
      case 'source':
        return this.#sources;
      case 'sink':
        return this.#sinks;
      case 'step':
        return this.#steps;
      case 'lookup':
        return this.#lookups;
    }
  }
}
