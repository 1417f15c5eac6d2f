/**
 * The Pub/Sub clients a `pubsub` component uses, made from its connection options.
 */

import { isAbsolute, resolve } from 'node:path';
import type { ClientConfig, PubSub } from '@google-cloud/pubsub';

/** The connection options (see `connection-config.ts`). */
export interface ConnectionOptions {
  readonly project: string;
  readonly api_endpoint?: string;
  readonly key_file?: string;
}

/** Whether an endpoint is an emulator (or stand-in): not a host under `googleapis.com`. */
export function isEmulator(endpoint: string): boolean {
  const host = endpoint.replace(/^https?:\/\//, '').replace(/[:/].*$/, '');
  return !(host === 'googleapis.com' || host.endsWith('.googleapis.com'));
}

/** Client options for `PubSub` (and, through it, the generated v1 clients). */
export function clientConfig(options: ConnectionOptions, baseDir: string): ClientConfig {
  const config: ClientConfig = { projectId: options.project };
  if (options.api_endpoint !== undefined) {
    config.apiEndpoint = options.api_endpoint;
    if (isEmulator(options.api_endpoint)) {
      // Plain-text gRPC without credentials. The universe domain given up front keeps the auth
      // library from probing the GCE metadata server for it (traffic stays on the endpoint).
      config.emulatorMode = true;
      config.universeDomain = 'googleapis.com';
    }
  }
  if (options.key_file !== undefined)
    config.keyFilename = isAbsolute(options.key_file) ? options.key_file : resolve(baseDir, options.key_file);
  return config;
}

/**
 * The client library, imported when a component opens: it takes seconds to load on a busy
 * machine, which `sluice describe` and pipelines that do not open it should not pay.
 */
export function pubsubLibrary(): Promise<typeof import('@google-cloud/pubsub')> {
  return import('@google-cloud/pubsub');
}

/** A `PubSub` client for `options`. */
export async function pubsubClient(options: ConnectionOptions, baseDir: string): Promise<PubSub> {
  const { PubSub } = await pubsubLibrary();
  return new PubSub(clientConfig(options, baseDir));
}

/** A short text for an error: its message (gRPC errors carry their status in it). */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The gRPC status code of an error from the client, if any. */
export function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** gRPC status codes the connector tells apart. */
export const Status = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  UNAUTHENTICATED: 16,
} as const;
