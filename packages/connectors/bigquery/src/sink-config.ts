/**
 * The `bigquery` sink's options.
 */

import { retryConfig } from '@sluice/core';
import { type Static, Type } from 'typebox';

const column = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,299}$' });

export const bigquerySinkConfig = Type.Object(
  {
    project: Type.String({
      minLength: 1,
      description: 'Google Cloud project id of the dataset (and of the query jobs the sink runs).',
      examples: ['my-project'],
    }),
    dataset: Type.String({
      minLength: 1,
      pattern: '^[A-Za-z0-9_]{1,1024}$',
      description: 'Dataset of the table; it must exist.',
      examples: ['analytics'],
    }),
    table: Type.String({
      minLength: 1,
      pattern: '^[A-Za-z0-9_]{1,1000}$',
      description:
        'Table to write; it must exist, and its schema decides what a row may hold. Its column names ' +
        'are plain identifiers (letters, digits, `_`).',
      examples: ['orders'],
    }),
    mode: Type.Enum(['append', 'upsert'], {
      default: 'append',
      description:
        '`append` — every record is a new row, streamed with `tabledata.insertAll`; `upsert` — a ' +
        'changelog applied by `key`: rows are staged in a table of their own and merged into `table` ' +
        'with one `MERGE` per checkpoint.',
      examples: ['upsert'],
    }),
    key: Type.Optional(
      Type.Array(column, {
        minItems: 1,
        description: 'With `mode: upsert`: the columns that identify a row (the stream’s key).',
        examples: [['order_id']],
      }),
    ),
    ignore_unknown_fields: Type.Boolean({
      default: false,
      description:
        'Drop fields the table has no column for (`ignoreUnknownValues`). `false`: a record with ' +
        'such a field goes to the dead-letter output with the service’s reason.',
      examples: [true],
    }),
    api_endpoint: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Base URL of the BigQuery API (`<endpoint>/bigquery/v2/...`). Absent: the public endpoint.',
        examples: ['http://127.0.0.1:9050'],
      }),
    ),
    key_file: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Path of a service account key file (JSON), relative to the pipeline file. Absent (and no ' +
          '`access_token`): Application Default Credentials.',
        examples: ['secrets/bigquery-writer.json'],
      }),
    ),
    access_token: Type.Optional(
      Type.String({
        minLength: 1,
        secret: true,
        description:
          'An OAuth 2 access token to send as it is (short-lived: for a token minted by something ' +
          'else, or an emulator). Absent: `key_file` or Application Default Credentials.',
        examples: ['ya29.a0Af...'],
      }),
    ),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

export type BigquerySinkConfig = Static<typeof bigquerySinkConfig>;
