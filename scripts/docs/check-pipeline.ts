/**
 * Checks pipeline text the way a user's tools do: the editor JSON Schema with a real validator,
 * the YAML loader, and `Job.validate` (configs, expressions, types).
 */

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Job, type Plan, parsePipelineYaml, type Registry, SluiceError } from '@sluice/core';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { parse, stringify } from 'yaml';
import type { YamlBlock } from './markdown-yaml.ts';

/** Keywords of our schema that no draft defines: annotations for editors and for redaction. */
const ANNOTATIONS = ['enumDescriptions', 'secret'];

/**
 * Compiles an editor schema with the Ajv class of the draft its `$schema` names, in strict mode
 * (so a `required` naming an undeclared property or an unknown keyword fails the compile), with
 * the formats of ajv-formats.
 */
export function editorValidator(schema: { $schema?: string }): ValidateFunction {
  const options = { allErrors: true, strict: true, strictTypes: false, strictRequired: false };
  const draft = String(schema.$schema ?? '');
  const ajv = draft.includes('2020-12')
    ? new Ajv2020(options)
    : draft.includes('2019-09')
      ? new Ajv2019(options)
      : draft.includes('draft-07')
        ? new Ajv(options)
        : undefined;
  if (ajv === undefined) throw new Error(`no Ajv for the schema draft '${draft}'`);
  for (const keyword of ANNOTATIONS) ajv.addKeyword({ keyword, schemaType: ['string', 'boolean', 'array'] });
  formats.default(ajv);
  return ajv.compile(schema);
}

function errorText(err: unknown): string {
  return err instanceof SluiceError ? err.describe() : String(err);
}

function isRecord(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks pipelines against one registry and one editor schema. */
export class PipelineChecker {
  readonly #registry: Registry;
  readonly #editor: ValidateFunction;

  constructor(registry: Registry, editorSchema: { $schema?: string }) {
    this.#registry = registry;
    this.#editor = editorValidator(editorSchema);
  }

  /**
   * Problems with a pipeline file's text (none: it is valid for the editor, the loader and
   * `Job.validate`). Relative paths resolve against `baseDir`; a `validate` step's schema file
   * that does not exist there is stood in for by an empty schema, since snippets name files
   * they do not ship.
   */
  async check(text: string, baseDir: string): Promise<string[]> {
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (err) {
      return [`not YAML: ${(err as Error).message.split('\n')[0]}`];
    }
    const problems: string[] = [];
    if (!this.#editor(doc)) {
      for (const e of this.#editor.errors ?? [])
        problems.push(`editor schema: ${e.instancePath || '/'} ${e.message}`);
    }
    let plan: Plan;
    try {
      plan = parsePipelineYaml(text, join(baseDir, 'pipeline.yaml'), { registry: this.#registry, env: {} });
    } catch (err) {
      return [...problems, `loader: ${errorText(err)}`];
    }
    try {
      await Job.validate(withSchemaStandIns(plan), { registry: this.#registry });
    } catch (err) {
      problems.push(`validate: ${errorText(err)}`);
    }
    return problems;
  }

  /**
   * Problems with one documented block: a fragment must be YAML; an unmarked block must be a
   * valid pipeline, or — when it has a `type` — valid options of that component (of the kind its
   * heading names, else of any kind with that type), checked inside a minimal pipeline; a
   * counter-example must be refused.
   */
  async checkBlock(block: YamlBlock, baseDir: string): Promise<string[]> {
    if (block.marker === 'fragment') {
      try {
        parse(block.text);
        return [];
      } catch (err) {
        return [`fragment is not YAML: ${(err as Error).message.split('\n')[0]}`];
      }
    }
    const problems = await this.#checkWhole(block, baseDir);
    if (block.marker === 'counter-example')
      return problems.length > 0 ? [] : ['marked counter-example but valid'];
    return problems;
  }

  async #checkWhole(block: YamlBlock, baseDir: string): Promise<string[]> {
    let doc: unknown;
    try {
      doc = parse(block.text);
    } catch (err) {
      return [`not YAML: ${(err as Error).message.split('\n')[0]}`];
    }
    if (!isRecord(doc) || !('type' in doc) || 'sources' in doc) return this.check(block.text, baseDir);
    const type = String(doc.type);
    if (block.component && block.component.type !== type) {
      return [`documents '${block.component.type}' but its type is '${type}'`];
    }
    const kinds = block.component
      ? [block.component.kind]
      : (['source', 'step', 'sink'] as const).filter((k) => this.#registry[k](type) !== undefined);
    if (kinds.length === 0) return [`no component of type '${type}'`];
    let first: string[] | undefined;
    for (const kind of kinds) {
      const problems = await this.check(stringify(asPipeline(doc, kind)), baseDir);
      if (problems.length === 0) return [];
      first ??= problems.map((p) => `as a ${kind}: ${p}`);
    }
    return first ?? [];
  }
}

/** A minimal pipeline around one component's options: generated input, discarded output. */
export function asPipeline(
  options: { [key: string]: unknown },
  kind: 'source' | 'step' | 'sink' | 'lookup',
): object {
  const inputs =
    typeof options.input === 'string' ? [options.input] : Array.isArray(options.input) ? options.input : [];
  const sources = Object.fromEntries(
    (inputs.length > 0 ? inputs.map(String) : ['in']).map((id) => [
      id,
      { type: 'generate', template: 'orders' },
    ]),
  );
  const discard = { out: { type: 'discard' } };
  switch (kind) {
    case 'source':
      return { name: 'documented', sources: { documented: options }, sinks: discard };
    case 'step':
      return { name: 'documented', sources, steps: [{ id: 'documented', ...options }], sinks: discard };
    case 'sink':
      return { name: 'documented', sources, sinks: { documented: options } };
    case 'lookup': {
      // The table of a `lookup` step whose key has as many values as the table's `key` lists
      // (one unless it is a list).
      const keys = Array.isArray(options.key) ? options.key.length : 1;
      const key = Array.from({ length: keys }, (_, i) => `customer_id + ${i}`);
      const step = { id: 'documented', type: 'lookup', input: 'in', table: options, key };
      return { name: 'documented', sources, steps: [step], sinks: discard };
    }
  }
}

function withSchemaStandIns(plan: Plan): Plan {
  const steps = plan.steps.map((step) => {
    const config = step.config;
    if (step.type !== 'validate' || !isRecord(config) || typeof config.schema !== 'string') return step;
    if (existsSync(resolve(plan.baseDir, config.schema))) return step;
    return { ...step, config: { ...config, schema: {} } };
  });
  return { ...plan, steps };
}
