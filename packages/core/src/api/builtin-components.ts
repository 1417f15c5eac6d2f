/**
 * Typed helpers for the built-in sources, sinks and lookup tables in the TypeScript API.
 *
 * ```ts
 * pipeline('x').from('orders', file({ path: './orders.jsonl', eventTime: { field: 'ts' } }))
 * ```
 */

import { discardSink } from '../connectors/discard-sink.ts';
import { fileLookup } from '../connectors/file-lookup.ts';
import { fileSink as fileSinkSpec } from '../connectors/file-sink.ts';
import { fileSource } from '../connectors/file-source.ts';
import { generateSource } from '../connectors/generate-source.ts';
import { httpLookup } from '../connectors/http-lookup.ts';
import { httpServerSource } from '../connectors/http-server-source.ts';
import { httpSink as httpSinkSpec } from '../connectors/http-sink.ts';
import { nexmarkSource } from '../connectors/nexmark-source.ts';
import { stdoutSink } from '../connectors/stdio-sink.ts';
import { stdinSource } from '../connectors/stdio-source.ts';
import { lookupOf, sinkOf, sourceOf } from './components.ts';

/** Seeded synthetic records (orders, clicks, sensor readings). */
export const generate = sourceOf(generateSource);
/** JSON lines, CSV or text files, read once or followed. */
export const file = sourceOf(fileSource);
export const stdin = sourceOf(stdinSource);
/** The Nexmark benchmark stream of persons, auctions and bids (records: `NexmarkEvent`). */
export const nexmark = sourceOf(nexmarkSource);
/** An HTTP endpoint accepting POSTed JSON or NDJSON. */
export const httpServer = sourceOf(httpServerSource);

/** JSON lines or CSV files, rolled, finalized atomically at checkpoints. */
export const fileSink = sinkOf(fileSinkSpec);
export const stdout = sinkOf(stdoutSink);
/** POSTs batches to a URL with retries. */
export const httpSink = sinkOf(httpSinkSpec);
/** Drops everything (benchmarks). */
export const discard = sinkOf(discardSink);

/** A JSON Lines or CSV file held in memory, for `.lookup(...)`. */
export const fileTable = lookupOf(fileLookup);
/** An HTTP API asked for each key's row (one GET per key), for `.lookup(...)`. */
export const httpTable = lookupOf(httpLookup);
