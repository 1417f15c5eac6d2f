/**
 * The schema of a `kafka` sink in a registry format (`avro`, `json_schema`): checked and compiled
 * when the sink is created (inline schemas; no I/O), read from its file and registered under its
 * subject when the sink opens — the schema id every value is framed with.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Logger, type RetryPolicy, SluiceError } from '@sluice/core';
import { schemaEncoder, type ValueEncoder } from './schema-encoders.ts';
import { type RegistrySettings, registerSchema } from './schema-registry.ts';
import { isRegistryFormat, registrySettings } from './schema-registry-config.ts';
import type { KafkaSinkConfig } from './sink-config.ts';

/** A sink's registry schema as far as it is known without I/O. */
export interface SinkSchemaPlan {
  readonly format: 'avro' | 'json_schema';
  readonly registry: RegistrySettings;
  readonly subject: string;
  /** The schema, when given inline: its text as registered, compiled. */
  readonly inline: { readonly text: string; readonly encode: ValueEncoder } | undefined;
  /** The schema's file, relative to the pipeline file, when given as a path. */
  readonly file: string | undefined;
}

/** The registered schema: its id and the encoder of its values. */
export interface SinkSchema {
  readonly id: number;
  readonly encode: ValueEncoder;
}

/** Whether a `schema` string is the schema's JSON text rather than a path. */
function isInlineText(schema: string): boolean {
  return /^\s*[{["]/.test(schema);
}

/**
 * Checks the registry options of a sink config (no I/O): undefined for the formats without a
 * registry; CONFIG_INVALID with its `path` when the registry or the schema is missing, or an
 * inline schema does not parse or compile.
 */
export function checkSinkSchema(config: KafkaSinkConfig): SinkSchemaPlan | undefined {
  const format = config.format;
  if (!isRegistryFormat(format)) {
    for (const field of ['schema', 'subject'] as const) {
      if (config[field] !== undefined) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `${field} applies to formats avro and json_schema only, and format is ${format}`,
          { path: field },
        );
      }
    }
    return undefined;
  }
  const registry = registrySettings(config, 'registers its schema in')!;
  const schema = config.schema;
  if (schema === undefined) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `format ${format} writes records with a schema: set schema to the schema (inline) or the path of its file`,
      { path: 'schema' },
    );
  }
  const subject = config.subject ?? `${config.topic}-value`;
  if (typeof schema === 'string' && !isInlineText(schema)) {
    return { format, registry, subject, inline: undefined, file: schema };
  }
  const text = typeof schema === 'string' ? schema : JSON.stringify(schema);
  return { format, registry, subject, inline: compile(format, text, 'inline'), file: undefined };
}

/**
 * The schema's text as registered (compact JSON: the same schema always registers the same
 * text, so a restart finds its id) and its encoder; CONFIG_INVALID at `schema` when it does
 * not parse or compile.
 */
function compile(
  format: 'avro' | 'json_schema',
  text: string,
  where: string,
): { text: string; encode: ValueEncoder } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `schema (${where}) is not valid JSON: ${(err as Error).message}`,
      { path: 'schema', cause: err },
    );
  }
  const compact = JSON.stringify(parsed);
  try {
    return { text: compact, encode: schemaEncoder(format, compact) };
  } catch (err) {
    throw new SluiceError('CONFIG_INVALID', `schema (${where}) ${(err as Error).message}`, {
      path: 'schema',
      cause: err,
    });
  }
}

/** What `openSinkSchema` needs from the sink. */
export interface SchemaOpenContext {
  readonly step: string;
  /** Folder of the pipeline file: relative schema paths resolve against it. */
  readonly baseDir: string;
  readonly log: Logger;
  readonly retry: RetryPolicy;
  readonly secrets: readonly string[];
  readonly signal: AbortSignal;
}

/**
 * Reads the schema's file (when given as a path), compiles it, and registers it under its subject
 * (`registerSchema`). Errors carry the step: CONFIG_INVALID at `schema` or `schema_registry…`,
 * SINK_UNAVAILABLE when the registry stays unreachable.
 */
export async function openSinkSchema(plan: SinkSchemaPlan, ctx: SchemaOpenContext): Promise<SinkSchema> {
  let compiled = plan.inline;
  if (compiled === undefined) {
    const file = resolve(ctx.baseDir, plan.file!);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `cannot read the schema file '${file}': ${(err as Error).message}`,
        {
          step: ctx.step,
          path: 'schema',
          cause: err,
        },
      );
    }
    try {
      compiled = compile(plan.format, text, `file '${file}'`);
    } catch (err) {
      const e = err as SluiceError;
      throw new SluiceError(e.code, e.message, { step: ctx.step, path: e.path, cause: e.cause });
    }
  }
  const id = await registerSchema(
    plan.registry,
    plan.subject,
    { type: plan.format === 'avro' ? 'AVRO' : 'JSON', text: compiled.text },
    ctx,
  );
  ctx.log.info('kafka sink: schema registered', { sink: ctx.step, subject: plan.subject, schema_id: id });
  return { id, encode: compiled.encode };
}
