/**
 * The `schema_registry` option of the `kafka` source and sink (formats `avro` and `json_schema`),
 * and its parsing into `RegistrySettings`.
 */

import { parseDuration, SluiceError, type Static, Type } from '@sluice/core';
import type { RegistrySettings } from './schema-registry.ts';

/** Where the `avro` and `json_schema` formats find (source) or register (sink) their schemas. */
export const schemaRegistryOptions = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      description:
        'Base URL of a Confluent-compatible Schema Registry; the source reads schemas from ' +
        '`{url}/schemas/ids/{id}`, the sink registers its schema at `{url}/subjects/{subject}/versions` ' +
        '(for Apicurio Registry: `http://host:8080/apis/ccompat/v7`).',
      examples: ['http://127.0.0.1:8081'],
    }),
    basic_auth: Type.Optional(
      Type.Object(
        {
          username: Type.String({ description: 'User name (or API key).' }),
          password: Type.String({ description: 'Password (or API secret).', secret: true }),
        },
        { additionalProperties: false, description: 'HTTP basic authentication; omit for none.' },
      ),
    ),
    timeout: Type.String({
      default: '10s',
      description: 'Timeout of one registry request (a timed-out request is retried).',
      examples: ['30s'],
    }),
  },
  {
    additionalProperties: false,
    description: 'Schema Registry of the `avro` and `json_schema` formats (required by them).',
  },
);

export type SchemaRegistryOptions = Static<typeof schemaRegistryOptions>;

/** Whether `format` is one of the Schema Registry formats. */
export function isRegistryFormat(format: string): format is 'avro' | 'json_schema' {
  return format === 'avro' || format === 'json_schema';
}

/**
 * Registry settings of a config in a registry format (undefined for the other formats);
 * CONFIG_INVALID when `schema_registry` is missing or its URL is not a plain http(s) URL.
 * `uses` says what the format does with the registry, for the message.
 */
export function registrySettings(
  config: { readonly format: string; readonly schema_registry?: SchemaRegistryOptions },
  uses: string,
): RegistrySettings | undefined {
  const registry = config.schema_registry;
  if (!isRegistryFormat(config.format)) return undefined;
  if (!registry) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `format ${config.format} ${uses} a Schema Registry: set schema_registry.url`,
      { path: 'schema_registry' },
    );
  }
  let url: URL;
  try {
    url = new URL(registry.url);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SluiceError('CONFIG_INVALID', `schema_registry.url: '${registry.url}' is not an http(s) URL`, {
      path: 'schema_registry.url',
    });
  }
  if (url.username !== '' || url.password !== '') {
    throw new SluiceError(
      'CONFIG_INVALID',
      'schema_registry.url must not hold credentials; put them in schema_registry.basic_auth',
      { path: 'schema_registry.url' },
    );
  }
  return {
    url: registry.url.replace(/\/+$/, ''),
    username: registry.basic_auth?.username,
    password: registry.basic_auth?.password,
    timeoutMs: parseDuration(registry.timeout, 'schema_registry.timeout'),
  };
}

/** The registry password, to scrub from messages. */
export function registrySecrets(config: { readonly schema_registry?: SchemaRegistryOptions }): string[] {
  const password = config.schema_registry?.basic_auth?.password;
  return password ? [password] : [];
}
