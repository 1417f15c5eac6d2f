/**
 * Helpers for tests against the real Schema Registry (`scripts/services.sh up schema-registry`:
 * Apicurio Registry's Confluent-compatible API on 127.0.0.1:8081): the reachability check that
 * skips (or, under CI, fails), registering schemas over the registry's REST API, and framing
 * payloads in the Confluent wire format.
 *
 * Not part of the package's public surface.
 */

import type { Row } from '@sluice/core';
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

/** An Avro record schema with every type and logical type the encoders handle. */
export const payment = {
  type: 'record',
  name: 'Payment',
  namespace: 'sluice.test',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'qty', type: 'int' },
    { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } },
    {
      name: 'fee',
      type: { type: 'fixed', name: 'Fee', size: 3, logicalType: 'decimal', precision: 6, scale: 3 },
    },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'settled', type: ['null', { type: 'long', logicalType: 'timestamp-micros' }], default: null },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'method', type: { type: 'enum', name: 'Method', symbols: ['CARD', 'CASH'] } },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'receipt', type: 'bytes' },
    { name: 'code', type: ['null', 'bytes'], default: null },
    { name: 'digest', type: { type: 'fixed', name: 'Digest', size: 2 } },
    { name: 'ratio', type: 'double' },
    { name: 'paid', type: 'boolean' },
    { name: 'tags', type: { type: 'map', values: 'bytes' }, default: {} },
    {
      name: 'lines',
      type: {
        type: 'array',
        items: { type: 'record', name: 'Line', fields: [{ name: 'sku', type: 'string' }] },
      },
      default: [],
    },
  ],
};
export const paymentText = JSON.stringify(payment);

/** Payment `i` as the source reads it back (and as the sink takes it). */
export function paymentRow(i: number): Row {
  return {
    id: 1_000_000_000_000 + i,
    qty: i,
    amount: `${10 + i}.${String(i % 100).padStart(2, '0')}`,
    fee: i % 2 ? '-0.125' : '1.500',
    at: 1_700_000_000_000 + i,
    settled: i % 3 ? null : 1_700_000_000_000_123 + i,
    day: 19_700 + i,
    method: i % 2 ? 'CASH' : 'CARD',
    note: i % 4 ? null : `n${i}`,
    receipt: Buffer.from([i & 0xff, 1]).toString('base64'),
    code: i % 2 ? 'AQI=' : null,
    digest: 'q80=',
    ratio: i / 4,
    paid: i % 2 === 0,
    tags: { a: 'AA==' },
    lines: [{ sku: `S${i}` }],
  };
}

/** A JSON Schema the registry accepts (Apicurio refuses a bare `{"type":"object"}`). */
export const userSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: { id: { type: 'integer' }, email: { type: 'string', format: 'email' } },
  required: ['id', 'email'],
};

/** An Avro long written by hand (zig-zag varint): values the encoder refuses, bytes to compare. */
export function zigzag(n: bigint): Buffer {
  let v = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
