/** Small helpers of the `postgres` sink: COPY of one chunk, chunking, and its startup log line. */

import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PostgresSinkConfig } from './sink-config.ts';
import type { Statements } from './statements.ts';

/** A statement over the records at some indexes of the batch being written. */
export type Statement = (client: pg.Client, indexes: readonly number[]) => Promise<void>;

/** Where a URL points, without its credentials: for log lines. */
export function endpointOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsed url)';
  }
}

/** Runs one `COPY … FROM STDIN` of `text`. */
export async function copyInto(client: pg.Client, statement: string, data: string | Buffer): Promise<void> {
  const stream = client.query(copyFrom(statement));
  stream.end(data);
  await finished(stream);
}

/** `indexes` in runs of at most `size`. */
export function* chunks(indexes: readonly number[], size: number): Generator<readonly number[]> {
  if (indexes.length <= size) {
    if (indexes.length > 0) yield indexes;
    return;
  }
  for (let from = 0; from < indexes.length; from += size) yield indexes.slice(from, from + size);
}

/** The statements a sink sends, for its startup log line. */
export function statementSummary(config: PostgresSinkConfig, statements: Statements): string {
  if (config.dialect === 'redshift')
    return config.mode === 'append'
      ? 'INSERT … VALUES'
      : 'staged INSERT, DELETE … USING, INSERT … SELECT / DELETE';
  return config.mode === 'append'
    ? (statements.copyBinary ?? statements.copy)
    : 'INSERT … ON CONFLICT / DELETE';
}
