/**
 * The metadata a `nats` source record carries (bodies are decoded by the core's `decodeMessageBody`).
 */

import type { MsgHdrs } from '@nats-io/transport-node';

/** The field that carries a record's NATS metadata when `metadata` is on. */
export const METADATA_FIELD = '_nats';

/** A message's headers by name, the last value winning when a name repeats. */
export function headersOf(headers: MsgHdrs | undefined): { [name: string]: string } {
  const out: { [name: string]: string } = {};
  if (headers === undefined) return out;
  for (const name of headers.keys()) out[name] = headers.last(name);
  return out;
}
