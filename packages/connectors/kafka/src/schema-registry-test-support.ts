/**
 * Helpers for tests against the real Schema Registry (`scripts/services.sh up schema-registry`:
 * Apicurio Registry's Confluent-compatible API on 127.0.0.1:8081): the reachability check that
 * skips (or, under CI, fails), registering schemas over the registry's REST API, and framing
 * payloads in the Confluent wire format.
 *
 * Not part of the package's public surface.
 */

import { reportMissingService, uniqueName } from './test-support.ts';

/** Base URL of the registry's Confluent-compatible API. */
export const REGISTRY_URL = 'http://127.0.0.1:8081/apis/ccompat/v7';

let reachable: Promise<string | undefined> | undefined;

/**
 * Whether the registry answers `GET /subjects`. When it does not, prints "skipped: schema
 * registry not reachable at …" and returns false — except under CI, where it throws
 * (`reportMissingService`).
 */
export async function registryAvailable(): Promise<boolean> {
  reachable ??= fetch(`${REGISTRY_URL}/subjects`, { signal: AbortSignal.timeout(5_000) }).then(
    (res) => (res.ok ? undefined : `answered ${res.status}`),
    (err: Error) => (err.cause as Error | undefined)?.message ?? err.message,
  );
  const problem = await reachable;
  if (problem !== undefined) {
    reportMissingService(
      `schema registry not reachable at ${REGISTRY_URL} (${problem}; scripts/services.sh up schema-registry)`,
    );
  }
  return problem === undefined;
}

/**
 * Registers `schema` under a new subject named after `label`, the way a Confluent producer
 * does (`POST /subjects/{subject}/versions`); returns the schema id.
 */
export async function registerSchema(
  label: string,
  schema: object,
  type: 'AVRO' | 'JSON' = 'AVRO',
): Promise<number> {
  const subject = `${uniqueName(label)}-value`;
  const body: { schema: string; schemaType?: string } = { schema: JSON.stringify(schema) };
  if (type !== 'AVRO') body.schemaType = type;
  const res = await fetch(`${REGISTRY_URL}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`registering ${subject} failed: ${res.status} ${text}`);
  const id = (JSON.parse(text) as { id?: unknown }).id;
  if (typeof id !== 'number') throw new Error(`registering ${subject}: no id in ${text}`);
  return id;
}

/** `payload` in the Confluent wire format: byte 0, the schema id (4 bytes, big-endian), the payload. */
export function framed(id: number, payload: Buffer | string): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, typeof payload === 'string' ? Buffer.from(payload) : payload]);
}
