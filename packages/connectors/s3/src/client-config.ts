/**
 * Options every `s3` component takes to reach its bucket, and the client they make.
 */

import { S3Client } from '@aws-sdk/client-s3';
import { retryConfig, SluiceError } from '@sluice/core';
import { type Static, Type } from 'typebox';

export const clientFields = {
  bucket: Type.String({
    minLength: 3,
    maxLength: 63,
    description: 'Bucket to use; it must exist (the connector creates no buckets).',
    examples: ['events'],
  }),
  prefix: Type.String({
    default: '',
    description:
      'Key prefix under which objects are written or read, with a trailing `/` when it names a ' +
      'folder. Empty: the whole bucket.',
    examples: ['orders/'],
  }),
  region: Type.String({
    default: 'us-east-1',
    description: 'Region of the bucket (S3-compatible servers usually take any).',
    examples: ['eu-west-1'],
  }),
  endpoint: Type.Optional(
    Type.String({
      description:
        'URL of an S3-compatible server (MinIO, S3Proxy, Ceph). Absent: AWS S3. With an endpoint the ' +
        'client sends checksums only where S3 requires them, as many compatible servers refuse the ' +
        'newer checksum headers.',
      examples: ['http://127.0.0.1:9000'],
    }),
  ),
  force_path_style: Type.Boolean({
    default: false,
    description:
      'Address the bucket in the path (`http://host/bucket/key`) rather than as a host name: what ' +
      'most S3-compatible servers need.',
    examples: [true],
  }),
  access_key_id: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Access key id. Absent (with `secret_access_key`): the AWS SDK default chain (environment, ' +
        'shared config files, instance or container role).',
      examples: ['AKIAIOSFODNN7EXAMPLE'],
    }),
  ),
  secret_access_key: Type.Optional(
    Type.String({
      minLength: 1,
      secret: true,
      description:
        'Secret access key, given with `access_key_id` (a secret: redacted wherever the config is shown).',
      examples: ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
    }),
  ),
  retry: retryConfig,
};

const clientConfig = Type.Object(clientFields);
export type ClientConfig = Static<typeof clientConfig>;

/** Whether exactly one of the two credential options is given (a configuration error). */
export function credentialsProblem(config: ClientConfig): string | undefined {
  if ((config.access_key_id === undefined) !== (config.secret_access_key === undefined))
    return 'give `access_key_id` and `secret_access_key` together, or neither (the SDK default chain)';
  return undefined;
}

/** The S3 client for `config`. The SDK's own retries are off: `retry` decides, with backoff. */
export function createClient(
  config: Pick<
    ClientConfig,
    'region' | 'endpoint' | 'force_path_style' | 'access_key_id' | 'secret_access_key'
  >,
): S3Client {
  return new S3Client({
    region: config.region,
    ...(config.endpoint === undefined
      ? {}
      : {
          endpoint: config.endpoint,
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }),
    forcePathStyle: config.force_path_style,
    maxAttempts: 1,
    ...(config.access_key_id !== undefined && config.secret_access_key !== undefined
      ? { credentials: { accessKeyId: config.access_key_id, secretAccessKey: config.secret_access_key } }
      : {}),
  });
}

/** HTTP status of an SDK failure, if the server answered. */
export function statusOf(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Whether another attempt may succeed: no answer (a connection failure, a timeout), a server
 * error (5xx), throttling (429, 503 SlowDown). Refusals (403 wrong credentials, 404 no bucket) are
 * not retried.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof SluiceError) return err.retryable;
  const status = statusOf(err);
  if (status === undefined) return !(err instanceof TypeError);
  return status >= 500 || status === 429 || status === 408;
}

/** A one-line description of an SDK failure, without request details. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const status = statusOf(err);
    return `${err.name}${status === undefined ? '' : ` (HTTP ${status})`}: ${err.message}`;
  }
  return String(err);
}
