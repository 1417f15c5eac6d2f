/**
 * The JSON Schema of a whole pipeline file, for editors (completion, hover docs, validation).
 */

import type { Registry } from '../registry.ts';
import type { ComponentSpec } from '../spec.ts';
import { isRecord } from './config-path.ts';
import { withDefaultsOptional } from './json-schema-defaults.ts';
import {
  eventTimeSchema,
  idPattern,
  type pipelineKeys,
  pipelineSections,
  settingsSchema,
  sinkInputSchema,
  stepIdDescription,
  stepInputSchema,
} from './json-schema-sections.ts';

type Json = { [keyword: string]: unknown };
type Kind = ComponentSpec['kind'];

/**
 * JSON Schema (draft-07, the draft TypeBox schemas and most editors speak) of a pipeline file:
 * sources, steps, sinks, `dead_letter` and `late_output` are unions discriminated by `type`
 * (an `if`/`then` per registered type, so an editor checks only the matching component's
 * options), built from the registry's component schemas with each spec's summary and
 * description — a step option marked `lookup: true` takes the same union of the lookup types —;
 * plus `settings` and `event_time`. An option the loader fills with its default is
 * never required (`withDefaultsOptional`), so the schema accepts what the loader accepts. A plain
 * JSON value: serialize it as it is.
 */
export function pipelineJsonSchema(registry: Registry): object {
  const ref = (name: string) => ({ $ref: `#/definitions/${name}` });
  const about = (key: (typeof pipelineKeys)[number]) => ({ description: pipelineSections[key].description });
  const sections: { [key in (typeof pipelineKeys)[number]]: Json } = {
    name: { type: 'string', minLength: 1, ...about('name') },
    settings: { allOf: [ref('settings')], ...about('settings') },
    sources: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: idPattern },
      additionalProperties: ref('source'),
      ...about('sources'),
    },
    steps: { type: 'array', items: ref('step'), ...about('steps') },
    sinks: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: idPattern },
      additionalProperties: ref('sink'),
      ...about('sinks'),
    },
    dead_letter: { allOf: [ref('output')], ...about('dead_letter') },
    late_output: { allOf: [ref('output')], ...about('late_output') },
  };
  const required = Object.entries(pipelineSections)
    .filter(([, section]) => section.required)
    .map(([key]) => key);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Sluice pipeline',
    description: 'A Sluice streaming pipeline: sources, steps and sinks.',
    type: 'object',
    additionalProperties: false,
    required,
    properties: sections,
    definitions: {
      settings: withDefaultsOptional(settingsSchema),
      event_time: withDefaultsOptional(eventTimeSchema),
      source: union(registry, 'source', { event_time: ref('event_time') }, []),
      step: union(
        registry,
        'step',
        {
          id: { type: 'string', pattern: idPattern, description: stepIdDescription },
          input: clone(stepInputSchema),
        },
        ['id'],
      ),
      sink: union(registry, 'sink', { input: clone(sinkInputSchema) }, []),
      output: union(registry, 'sink', {}, []),
    },
  };
}

function union(registry: Registry, kind: Kind, extra: Json, extraRequired: string[]): Json {
  const specs = registry.all().filter((spec) => spec.kind === kind);
  const typeSchema =
    specs.length === 0
      ? false
      : {
          enum: specs.map((s) => s.type),
          enumDescriptions: specs.map((s) => s.summary),
          description: `The ${kind} type.`,
        };
  const out: Json = {
    type: 'object',
    required: ['type', ...extraRequired],
    properties: { type: typeSchema, ...extra },
  };
  if (specs.length > 0) {
    out.allOf = specs.map((spec) => ({
      if: { properties: { type: { const: spec.type } }, required: ['type'] },
      // biome-ignore lint/suspicious/noThenProperty: `then` is the JSON Schema keyword, not a promise.
      then: branch(registry, spec, extra, extraRequired),
    }));
  }
  return out;
}

function branch(registry: Registry, spec: ComponentSpec, extra: Json, extraRequired: string[]): Json {
  const config = withDefaultsOptional(spec.config);
  if (isRecord(config.properties)) {
    // An option marked `lookup: true` (the `table` of a `lookup` step) holds a lookup table's
    // config: in the editor schema, the union of the registered lookup types.
    for (const [name, option] of Object.entries(config.properties)) {
      if (isRecord(option) && option.lookup === true) {
        config.properties[name] = { description: option.description, ...union(registry, 'lookup', {}, []) };
      }
    }
  }
  const description = spec.description ? `${spec.summary}\n\n${spec.description}` : spec.summary;
  const own: Json = { type: { const: spec.type, description: spec.summary }, ...extra };
  const required = ['type', ...extraRequired];
  if (isRecord(config.properties)) {
    const configRequired = Array.isArray(config.required) ? config.required : [];
    return {
      ...config,
      title: spec.type,
      description,
      properties: { ...own, ...config.properties },
      required: [...new Set([...required, ...configRequired])],
    };
  }
  return { title: spec.type, description, allOf: [{ type: 'object', properties: own, required }, config] };
}

function clone(schema: unknown): Json {
  const copy: unknown = JSON.parse(JSON.stringify(schema));
  return isRecord(copy) ? copy : {};
}
