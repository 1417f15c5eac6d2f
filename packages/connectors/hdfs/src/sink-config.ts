/**
 * The `hdfs` sink's options, and what it records in a checkpoint.
 */

import { retryConfig } from '@sluice/core';
import { layoutFields } from '@sluice/files';
import { type Static, Type } from 'typebox';

export const hdfsSinkConfig = Type.Object(
  {
    url: Type.String({
      default: 'http://127.0.0.1:9870',
      pattern: '^https?://',
      description:
        'HTTP address of the NameNode (its WebHDFS, `dfs.namenode.http-address`), or of an HttpFS ' +
        'gateway; `/webhdfs/v1` is added. Data is sent where the NameNode redirects it (a DataNode), ' +
        'so the DataNodes’ HTTP addresses must be reachable too.',
      examples: ['http://namenode.example.com:9870'],
    }),
    path: Type.String({
      pattern: '^/',
      description:
        'Absolute HDFS folder the files are written under (created when missing). In-progress files ' +
        'live in its `.sluice-inprogress/` folder until a checkpoint publishes them.',
      examples: ['/data/orders'],
    }),
    user: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'User the files are written as, sent as WebHDFS’s `user.name` (simple authentication, a ' +
          'cluster without Kerberos). Absent: the server’s default user (`dr.who`), which usually may ' +
          'not write.',
        examples: ['etl'],
      }),
    ),
    delegation_token: Type.Optional(
      Type.String({
        minLength: 1,
        secret: true,
        description:
          'A delegation token (`hdfs fetchdt`, encoded for URLs), sent as WebHDFS’s `delegation` on ' +
          'a secured cluster instead of `user` (a secret: redacted wherever the config is shown, kept ' +
          'out of errors and logs). Not tested against a Kerberos cluster.',
        examples: ['HAAEdXNlcgR1c2VyAIoBjZ...'],
      }),
    ),
    ...layoutFields,
    flush_bytes: Type.Integer({
      minimum: 1,
      default: 4_194_304,
      description:
        '`jsonl`: append the lines of an open file to it once this many bytes are waiting (each ' +
        'append is a NameNode and a DataNode request). Memory held per open file is about this much. ' +
        'Ignored for `parquet`, written once the file is finished.',
      examples: [16_777_216],
    }),
    request_timeout: Type.String({
      default: '60s',
      description:
        'Longest time one WebHDFS request may take before it counts as failed (and is retried). A ' +
        '`parquet` file goes in one request: allow for sending `roll.max_bytes` (less, compressed).',
      examples: ['2m'],
    }),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

export type HdfsSinkConfig = Static<typeof hdfsSinkConfig>;

/** A finished file waiting in the in-progress folder for its checkpoint to complete. */
export interface PendingFile {
  /** Its in-progress path. */
  staging: string;
  /** The path it is renamed to when published. */
  final: string;
}

/**
 * What the `hdfs` sink checkpoints: the finished files that are renamed into place once the
 * checkpoint is durable (a restart renames them; every other in-progress file of this sink is
 * deleted).
 */
export interface HdfsSinkState {
  files: PendingFile[];
}
