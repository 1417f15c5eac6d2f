/**
 * Read-only SQL over a `duckdb` sink's database: answered by the running pipeline's own
 * instance (DuckDB lets one process write a file), or by opening the file read-only when no
 * pipeline runs. The sink with `serve_queries: true` listens on 127.0.0.1 (an ephemeral port)
 * and writes `{ port, pid }` to `query.json` in its state folder; `queryDuckdb` finds it there.
 */

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type DuckDBConnection, type DuckDBInstance, StatementType } from '@duckdb/node-api';
import { SluiceError } from '@sluice/core';
import { openReadOnly } from './database.ts';

/** What a query returns: its column names and rows (JSON values; big integers as strings). */
export interface QueryResult {
  readonly columns: string[];
  readonly rows: { [column: string]: unknown }[];
}

/** The file in a sink's state folder that names the port of its query server. */
export const QUERY_FILE = 'query.json';

/** Runs one read-only statement (a SELECT) on `conn`; anything else is refused. */
export async function readOnlyQuery(conn: DuckDBConnection, sql: string): Promise<QueryResult> {
  const extracted = await conn.extractStatements(sql);
  if (extracted.count !== 1) throw new Error(`give one SQL statement, not ${extracted.count}`);
  const prepared = await extracted.prepare(0);
  if (prepared.statementType !== StatementType.SELECT)
    throw new Error('only read-only queries (SELECT, WITH … SELECT) are answered');
  const reader = await prepared.runAndReadAll();
  return { columns: reader.columnNames(), rows: reader.getRowObjectsJson() as QueryResult['rows'] };
}

/**
 * Serves read-only SQL over `instance` on 127.0.0.1 for as long as the sink runs: `POST /query`
 * with the SQL as the body answers `{ columns, rows }`, or `{ error }` with status 400. Readers
 * see published rows only (the checkpoints' transactions).
 */
export class QueryServer {
  readonly #server: Server;
  readonly #file: string;

  private constructor(server: Server, file: string) {
    this.#server = server;
    this.#file = file;
  }

  static async start(instance: DuckDBInstance, stateDir: string): Promise<QueryServer> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const reply = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.method !== 'POST' || req.url !== '/query') return reply(404, { error: 'POST /query' });
        let conn: DuckDBConnection | undefined;
        try {
          conn = await instance.connect();
          reply(200, await readOnlyQuery(conn, Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reply(400, { error: err instanceof Error ? err.message : String(err) });
        } finally {
          conn?.closeSync();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    server.unref();
    mkdirSync(stateDir, { recursive: true });
    const file = join(stateDir, QUERY_FILE);
    const { port } = server.address() as AddressInfo;
    writeFileSync(`${file}.tmp`, JSON.stringify({ port, pid: process.pid }));
    renameSync(`${file}.tmp`, file);
    return new QueryServer(server, file);
  }

  async close(): Promise<void> {
    rmSync(this.#file, { force: true });
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Asks the query server named in `stateDir` (if any answers); undefined when none runs. */
async function askServer(stateDir: string, sql: string): Promise<QueryResult | undefined> {
  let port: number;
  try {
    ({ port } = JSON.parse(readFileSync(join(stateDir, QUERY_FILE), 'utf8')) as { port: number });
  } catch {
    return undefined;
  }
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${port}/query`, { method: 'POST', body: sql });
  } catch {
    return undefined; // A file left by a pipeline that was killed: nothing listens.
  }
  const body = (await res.json()) as QueryResult & { error?: string };
  if (!res.ok) throw new SluiceError('CONFIG_INVALID', `duckdb query: ${body.error ?? res.statusText}`);
  return body;
}

/**
 * Answers `sql` over a `duckdb` sink's database: through the running pipeline's query server
 * when one is found in `stateDir`, else by opening `path` read-only (which fails while another
 * process writes it without serving queries). `via` says which.
 */
export async function queryDuckdb(
  path: string,
  stateDir: string,
  sql: string,
): Promise<QueryResult & { via: 'pipeline' | 'file' }> {
  const served = await askServer(stateDir, sql);
  if (served) return { ...served, via: 'pipeline' };
  let instance: DuckDBInstance;
  try {
    instance = await openReadOnly(path);
  } catch (err) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `duckdb query: cannot open ${path} read-only (${err instanceof Error ? err.message : err}); a pipeline writing it must set \`serve_queries: true\` to be queried while it runs`,
    );
  }
  const conn = await instance.connect();
  try {
    return { ...(await readOnlyQuery(conn, sql)), via: 'file' };
  } catch (err) {
    throw new SluiceError('CONFIG_INVALID', `duckdb query: ${err instanceof Error ? err.message : err}`);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
