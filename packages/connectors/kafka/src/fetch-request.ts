/**
 * One Fetch request (versions 12–17) to a partition leader, whose answer keeps each
 * partition's records as the raw bytes the broker sent: record-batches.ts reads them later,
 * when the pipeline asks for records. (The client library's own fetch turns every record into
 * objects, Buffers and BigInts as the response arrives — most of the source's cost, measured in
 * docs/benchmarks.md.) Full fetches only: no incremental fetch session, so every request names
 * every partition it wants, which also keeps requests independent of one another.
 */

import { type Reader, Writer } from '@platformatic/kafka';
import type { AbortedTransaction } from './record-batches.ts';

/** Fetch versions this file speaks: 12 names topics, 13 and later identify them by id. */
export const FETCH_VERSIONS = { min: 12, max: 17 } as const;

const FETCH = 1;

/** A connection as the client library hands it out (only `send` is used). */
export interface FetchConnection {
  send(
    apiKey: number,
    apiVersion: number,
    createPayload: () => Writer,
    parser: (correlationId: number, apiKey: number, apiVersion: number, reader: Reader) => RawFetchResponse,
    hasRequestHeaderTaggedFields: boolean,
    hasResponseHeaderTaggedFields: boolean,
    callback: (error: Error | null, response?: unknown) => void,
  ): void;
}

export interface FetchRequest {
  maxWaitMs: number;
  maxBytes: number;
  /** 0 read_uncommitted, 1 read_committed. */
  isolationLevel: 0 | 1;
  topics: {
    name: string;
    /** The topic id from the metadata (Fetch 13+). */
    id: string;
    partitions: { partition: number; offset: number; leaderEpoch: number; maxBytes: number }[];
  }[];
}

/** One partition of the answer. */
export interface RawFetchPartition {
  topic: string;
  partition: number;
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  /** Transactions aborted within the returned range (read_committed), or null. */
  aborted: AbortedTransaction[] | null;
  /** The record batches as sent (the last may be cut short), or null when there are none. */
  records: Buffer | null;
}

export interface RawFetchResponse {
  /** 0, or an error of the whole request. */
  errorCode: number;
  partitions: RawFetchPartition[];
}

/** Sends one Fetch request and resolves with its answer; rejects when the request fails as a whole. */
export function fetchRaw(
  connection: FetchConnection,
  version: number,
  request: FetchRequest,
): Promise<RawFetchResponse> {
  const byId = version >= 13;
  const names = new Map<string, string>();
  for (const t of request.topics) names.set(byId ? t.id : t.name, t.name);
  const payload = () => {
    const w = Writer.create();
    if (version < 15) w.appendInt32(-1); // replica id: a consumer
    w.appendInt32(request.maxWaitMs)
      .appendInt32(1) // min bytes
      .appendInt32(request.maxBytes)
      .appendInt8(request.isolationLevel)
      .appendInt32(0) // session id: none
      .appendInt32(-1) // session epoch: a full fetch, no session
      .appendArray(request.topics, (tw, t) => {
        if (byId) tw.appendUUID(t.id);
        else tw.appendString(t.name);
        tw.appendArray(t.partitions, (pw, p) => {
          pw.appendInt32(p.partition)
            .appendInt32(p.leaderEpoch)
            .appendInt64(BigInt(p.offset))
            .appendInt32(-1) // last fetched epoch
            .appendInt64(-1n) // log start offset (followers only)
            .appendInt32(p.maxBytes);
        });
      })
      .appendArray([], () => {}) // forgotten topics
      .appendString('') // rack id
      .appendTaggedFields();
    return w;
  };
  const parse = (_correlationId: number, _apiKey: number, _version: number, r: Reader): RawFetchResponse =>
    parseResponse(r, byId, names);
  return new Promise((resolve, reject) => {
    connection.send(FETCH, version, payload, parse, true, true, (err, response) => {
      if (err) reject(err);
      else resolve(response as RawFetchResponse);
    });
  });
}

function skipTaggedFields(r: Reader): void {
  const n = r.readUnsignedVarInt();
  for (let i = 0; i < n; i++) {
    r.readUnsignedVarInt(); // tag
    r.skip(r.readUnsignedVarInt());
  }
}

function parseResponse(r: Reader, byId: boolean, names: ReadonlyMap<string, string>): RawFetchResponse {
  r.readInt32(); // throttle time
  const errorCode = r.readInt16();
  r.readInt32(); // session id
  const partitions: RawFetchPartition[] = [];
  const topics = r.readUnsignedVarInt() - 1;
  for (let t = 0; t < topics; t++) {
    const ref = byId ? r.readUUID() : (r.readString() ?? '');
    const topic = names.get(ref) ?? ref;
    const count = r.readUnsignedVarInt() - 1;
    for (let p = 0; p < count; p++) {
      const partition = r.readInt32();
      const partitionError = r.readInt16();
      const highWatermark = Number(r.readInt64());
      r.readInt64(); // last stable offset
      const logStartOffset = Number(r.readInt64());
      let aborted: AbortedTransaction[] | null = null;
      const abortedCount = r.readUnsignedVarInt() - 1;
      if (abortedCount >= 0) {
        aborted = [];
        for (let a = 0; a < abortedCount; a++) {
          const producerId = Number(r.readInt64());
          const firstOffset = Number(r.readInt64());
          skipTaggedFields(r);
          aborted.push({ producerId, firstOffset });
        }
      }
      r.readInt32(); // preferred read replica
      const size = r.readUnsignedVarInt() - 1;
      let records: Buffer | null = null;
      if (size > 0) {
        records = r.buffer.slice(r.position, r.position + size);
        r.skip(size);
      }
      skipTaggedFields(r);
      partitions.push({
        topic,
        partition,
        errorCode: partitionError,
        highWatermark,
        logStartOffset,
        aborted,
        records,
      });
    }
    skipTaggedFields(r);
  }
  skipTaggedFields(r);
  return { errorCode, partitions };
}
