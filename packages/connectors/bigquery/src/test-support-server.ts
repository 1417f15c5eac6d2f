/**
 * A stand-in for the BigQuery REST API (v2), for the package's tests: an HTTP server on loopback
 * with the official client pointed at it (`api_endpoint`). No BigQuery emulator can run on these
 * machines.
 *
 * It serves what the sink calls — datasets.get, tables.get/insert/delete/list,
 * tabledata.insertAll, jobs.insert and jobs.get for a query job — keeps tables in memory, and
 * checks what the client sends: the bearer token, resource paths, body shapes, each inserted row
 * against the table's schema (types, modes, unknown fields: the service's `invalid` / `stopped`
 * insert errors, `skipInvalidRows`, `ignoreUnknownValues`), insert ids. A query job runs only the
 * keyed MERGE the sink emits (parsed strictly; anything else fails the job with `invalidQuery`).
 * Every request is kept in `requests` for tests to inspect. Not modelled: the streaming buffer's
 * limits on DML, best-effort deduplication windows (insert ids are deduplicated for the server's
 * life), locations, pagination.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A column of a table schema, as the API gives it. */
export interface Field {
  name: string;
  type: string;
  mode?: string;
  fields?: Field[];
}

/** A table as the stand-in keeps it. */
export interface StoredTable {
  schema: Field[];
  rows: { [column: string]: unknown }[];
}

/** One request served. */
export interface Request {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
}

type Json = { [k: string]: unknown };

class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

/** Why `value` is no value of `field`, or undefined. */
function fieldProblem(field: Field, value: unknown): string | undefined {
  if (value === null || value === undefined)
    return field.mode === 'REQUIRED' ? `Missing required field: ${field.name}.` : undefined;
  if (field.mode === 'REPEATED') {
    if (!Array.isArray(value)) return `Field ${field.name} is repeated; an array was expected.`;
    for (const v of value) {
      const p = fieldProblem({ ...field, mode: 'NULLABLE' }, v);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  const bad = () =>
    `Cannot convert value to ${field.type.toLowerCase()} (bad value): ${JSON.stringify(value)}`;
  switch (field.type) {
    case 'INTEGER':
    case 'INT64':
      return (typeof value === 'number' && Number.isInteger(value)) ||
        (typeof value === 'string' && /^-?\d+$/.test(value))
        ? undefined
        : bad();
    case 'FLOAT':
    case 'FLOAT64':
    case 'NUMERIC':
      return typeof value === 'number' ||
        (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)))
        ? undefined
        : bad();
    case 'BOOLEAN':
    case 'BOOL':
      return typeof value === 'boolean' ? undefined : bad();
    case 'STRING':
      return typeof value === 'string' ? undefined : bad();
    case 'TIMESTAMP':
      return typeof value === 'number' || (typeof value === 'string' && !Number.isNaN(Date.parse(value)))
        ? undefined
        : bad();
    case 'JSON':
      return undefined;
    case 'RECORD':
    case 'STRUCT': {
      if (typeof value !== 'object' || Array.isArray(value)) return bad();
      return rowProblem(field.fields ?? [], value as Json, false);
    }
    default:
      return `Unsupported type ${field.type} in the stand-in.`;
  }
}

/** Why `row` does not fit `schema`, or undefined. */
function rowProblem(schema: Field[], row: Json, ignoreUnknown: boolean): string | undefined {
  const names = new Set(schema.map((f) => f.name));
  if (!ignoreUnknown) for (const k of Object.keys(row)) if (!names.has(k)) return `no such field: ${k}.`;
  for (const f of schema) {
    const p = fieldProblem(f, row[f.name]);
    if (p !== undefined) return p;
  }
  return undefined;
}

const ident = '`([^`]+)`';
const col = '([A-Za-z_][A-Za-z0-9_]*)';
/** The MERGE the sink emits: target, staging, key columns, updated and inserted columns. */
const MERGE = new RegExp(
  `^MERGE ${ident} AS T USING \\(SELECT \\* EXCEPT\\(_sluice_rn\\) FROM \\(SELECT \\*, ROW_NUMBER\\(\\) OVER \\(PARTITION BY ([^)]+?) ORDER BY _sluice_seq DESC\\) AS _sluice_rn FROM ${ident}\\) WHERE _sluice_rn = 1\\) AS S ON (.+?) WHEN MATCHED AND S\\._sluice_op = 'D' THEN DELETE WHEN MATCHED THEN UPDATE SET (.+?) WHEN NOT MATCHED AND S\\._sluice_op = 'U' THEN INSERT \\(([^)]+)\\) VALUES \\(([^)]+)\\)$`,
);

/** The BigQuery stand-in server. */
export class BigQueryStandIn {
  readonly #server: Server;
  readonly #token: string;
  readonly datasets = new Set<string>();
  /** Tables by `project.dataset.table`. */
  readonly tables = new Map<string, StoredTable>();
  readonly requests: Request[] = [];
  readonly #jobs = new Map<string, Json>();
  readonly #insertIds = new Map<string, Set<string>>();
  /** While set, every request fails with 503 (an outage). */
  unavailable = false;
  #endpoint = '';

  /** `token`: the bearer token every request must carry. */
  constructor(token: string) {
    this.#token = token;
    this.#server = createServer((req, res) => {
      this.#serve(req, res).catch((err: unknown) =>
        this.#send(res, 500, { error: { message: String(err) } }),
      );
    });
  }

  /** `http://127.0.0.1:<port>`, for the client's `apiEndpoint`. */
  get endpoint(): string {
    return this.#endpoint;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#endpoint = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.#endpoint;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Makes a dataset and a table with `schema` (as an administrator would, outside the sink). */
  createTable(project: string, dataset: string, table: string, schema: Field[]): void {
    this.datasets.add(`${project}.${dataset}`);
    this.tables.set(`${project}.${dataset}.${table}`, { schema, rows: [] });
  }

  #send(res: ServerResponse, status: number, body: unknown): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(text);
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = req.method ?? 'GET';
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      return this.#send(res, 400, { error: { code: 400, message: 'Invalid JSON payload received.' } });
    }
    this.requests.push({ method, path: url.pathname, body });
    try {
      if (this.unavailable) throw new ApiError(503, 'backendError', 'The stand-in is down.');
      if (req.headers.authorization !== `Bearer ${this.#token}`)
        throw new ApiError(401, 'unauthorized', 'Request is missing required authentication credential.');
      const out = this.#route(method, url.pathname, body as Json | undefined);
      this.#send(res, out === undefined ? 204 : 200, out);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.#send(res, err.status, {
        error: {
          code: err.status,
          message: err.message,
          errors: [{ reason: err.reason, message: err.message }],
        },
      });
    }
  }

  #route(method: string, path: string, body: Json | undefined): unknown {
    const m = /^\/bigquery\/v2\/projects\/([^/]+)(\/.*)?$/.exec(path);
    if (m === null) throw new ApiError(404, 'notFound', `Not found: ${path}`);
    const project = m[1] as string;
    const rest = m[2] ?? '';
    const datasetPath = /^\/datasets\/([^/]+)$/.exec(rest);
    if (datasetPath !== null && method === 'GET') {
      const r = datasetPath;
      const id = `${project}.${r[1]}`;
      if (!this.datasets.has(id))
        throw new ApiError(404, 'notFound', `Not found: Dataset ${project}:${r[1]}`);
      return {
        kind: 'bigquery#dataset',
        id: `${project}:${r[1]}`,
        datasetReference: { projectId: project, datasetId: r[1] },
      };
    }
    const tablesPath = /^\/datasets\/([^/]+)\/tables$/.exec(rest);
    if (tablesPath !== null) {
      const r = tablesPath;
      const dataset = r[1] as string;
      if (!this.datasets.has(`${project}.${dataset}`))
        throw new ApiError(404, 'notFound', `Not found: Dataset ${project}:${dataset}`);
      if (method === 'GET') {
        const prefix = `${project}.${dataset}.`;
        const tables = [...this.tables.keys()]
          .filter((k) => k.startsWith(prefix))
          .map((k) => ({
            tableReference: { projectId: project, datasetId: dataset, tableId: k.slice(prefix.length) },
          }));
        return { kind: 'bigquery#tableList', tables, totalItems: tables.length };
      }
      if (method === 'POST') return this.#insertTable(project, dataset, body);
    }
    const tablePath = /^\/datasets\/([^/]+)\/tables\/([^/]+)$/.exec(rest);
    if (tablePath !== null) {
      const r = tablePath;
      const id = `${project}.${r[1]}.${r[2]}`;
      const table = this.tables.get(id);
      if (table === undefined)
        throw new ApiError(404, 'notFound', `Not found: Table ${project}:${r[1]}.${r[2]}`);
      if (method === 'GET')
        return {
          kind: 'bigquery#table',
          tableReference: { projectId: project, datasetId: r[1], tableId: r[2] },
          schema: { fields: table.schema },
          numRows: String(table.rows.length),
        };
      if (method === 'DELETE') {
        this.tables.delete(id);
        return undefined;
      }
    }
    const insertPath = /^\/datasets\/([^/]+)\/tables\/([^/]+)\/insertAll$/.exec(rest);
    if (insertPath !== null && method === 'POST')
      return this.#insertAll(`${project}.${insertPath[1]}.${insertPath[2]}`, body);
    if (rest === '/jobs' && method === 'POST') return this.#insertJob(project, body);
    const jobPath = /^\/jobs\/([^/]+)$/.exec(rest);
    if (jobPath !== null && method === 'GET') {
      const r = jobPath;
      const job = this.#jobs.get(`${project}.${r[1]}`);
      if (job === undefined) throw new ApiError(404, 'notFound', `Not found: Job ${project}:${r[1]}`);
      return job;
    }
    const queryPath = /^\/queries\/([^/]+)$/.exec(rest);
    if (queryPath !== null && method === 'GET') {
      const r = queryPath;
      const job = this.#jobs.get(`${project}.${r[1]}`);
      if (job === undefined) throw new ApiError(404, 'notFound', `Not found: Job ${project}:${r[1]}`);
      return {
        kind: 'bigquery#getQueryResultsResponse',
        jobReference: job.jobReference,
        jobComplete: true,
        rows: [],
        totalRows: '0',
        schema: { fields: [] },
      };
    }
    throw new ApiError(404, 'notFound', `Not found: ${method} ${path}`);
  }

  #insertTable(project: string, dataset: string, body: Json | undefined): unknown {
    const ref = body?.tableReference as Json | undefined;
    const tableId = ref?.tableId;
    if (typeof tableId !== 'string' || !/^[A-Za-z0-9_]{1,1024}$/.test(tableId))
      throw new ApiError(400, 'invalid', `Invalid table ID "${String(tableId)}".`);
    if (ref?.projectId !== project || ref?.datasetId !== dataset)
      throw new ApiError(400, 'invalid', 'tableReference does not match the request path.');
    const fields = (body?.schema as Json | undefined)?.fields;
    if (!Array.isArray(fields) || fields.length === 0)
      throw new ApiError(400, 'invalid', 'A schema is required.');
    const id = `${project}.${dataset}.${tableId}`;
    if (this.tables.has(id))
      throw new ApiError(409, 'duplicate', `Already Exists: Table ${project}:${dataset}.${tableId}`);
    this.tables.set(id, { schema: fields as Field[], rows: [] });
    return { kind: 'bigquery#table', tableReference: ref, schema: { fields } };
  }

  #insertAll(id: string, body: Json | undefined): unknown {
    const table = this.tables.get(id);
    if (table === undefined) throw new ApiError(404, 'notFound', `Not found: Table ${id}`);
    const rows = body?.rows;
    if (!Array.isArray(rows) || rows.length === 0)
      throw new ApiError(400, 'invalid', 'No rows present in the request.');
    if (rows.length > 50_000) throw new ApiError(400, 'invalid', 'Too many rows present in the request.');
    const skipInvalid = body?.skipInvalidRows === true;
    const ignoreUnknown = body?.ignoreUnknownValues === true;
    const problems: (string | undefined)[] = [];
    for (const row of rows as Json[]) {
      if (typeof row !== 'object' || row === null || typeof row.json !== 'object' || row.json === null)
        throw new ApiError(400, 'invalid', 'Each row needs a `json` object.');
      if (row.insertId !== undefined && typeof row.insertId !== 'string')
        throw new ApiError(400, 'invalid', 'insertId must be a string.');
      problems.push(rowProblem(table.schema, row.json as Json, ignoreUnknown));
    }
    const anyBad = problems.some((p) => p !== undefined);
    const insertErrors: Json[] = [];
    const seen = this.#insertIds.get(id) ?? new Set<string>();
    this.#insertIds.set(id, seen);
    (rows as Json[]).forEach((row, index) => {
      const problem = problems[index];
      if (problem !== undefined) {
        insertErrors.push({ index, errors: [{ reason: 'invalid', location: '', message: problem }] });
        return;
      }
      if (anyBad && !skipInvalid) {
        insertErrors.push({ index, errors: [{ reason: 'stopped', location: '', message: '' }] });
        return;
      }
      const insertId = row.insertId as string | undefined;
      if (insertId !== undefined) {
        if (seen.has(insertId)) return;
        seen.add(insertId);
      }
      const json = row.json as Json;
      const stored: Json = {};
      for (const f of table.schema) stored[f.name] = json[f.name] ?? null;
      table.rows.push(stored);
    });
    return insertErrors.length > 0
      ? { kind: 'bigquery#tableDataInsertAllResponse', insertErrors }
      : { kind: 'bigquery#tableDataInsertAllResponse' };
  }

  #insertJob(project: string, body: Json | undefined): unknown {
    const ref = (body?.jobReference ?? {}) as Json;
    const jobId = typeof ref.jobId === 'string' ? ref.jobId : `job_${this.#jobs.size + 1}`;
    if (!/^[A-Za-z0-9_-]{1,1024}$/.test(jobId))
      throw new ApiError(400, 'invalid', `Invalid job ID "${jobId}".`);
    if (this.#jobs.has(`${project}.${jobId}`))
      throw new ApiError(409, 'duplicate', `Already Exists: Job ${project}:${jobId}`);
    const query = ((body?.configuration as Json | undefined)?.query as Json | undefined) ?? undefined;
    if (query === undefined || typeof query.query !== 'string')
      throw new ApiError(400, 'invalid', 'Only query jobs are modelled.');
    if (query.useLegacySql !== false)
      throw new ApiError(400, 'invalid', 'The stand-in runs GoogleSQL only (useLegacySql: false).');
    const job: Json = {
      kind: 'bigquery#job',
      id: `${project}:${jobId}`,
      jobReference: { projectId: project, jobId },
      configuration: body?.configuration,
      status: { state: 'DONE' },
      statistics: {},
    };
    try {
      const affected = this.#merge(query.query);
      job.statistics = { query: { numDmlAffectedRows: String(affected) } };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      job.status = {
        state: 'DONE',
        errorResult: { reason: 'invalidQuery', message },
        errors: [{ reason: 'invalidQuery', message }],
      };
    }
    this.#jobs.set(`${project}.${jobId}`, job);
    return job;
  }

  /** Runs the keyed MERGE the sink emits; returns the rows it changed. */
  #merge(sql: string): number {
    const m = MERGE.exec(sql.replace(/\s+/g, ' ').trim());
    if (m === null) throw new Error(`the stand-in runs only the sink's keyed MERGE; got: ${sql}`);
    const [, targetId, partition, stagingId, on, sets, insertCols, insertVals] = m as unknown as string[];
    const target = this.tables.get(targetId as string);
    const staging = this.tables.get(stagingId as string);
    if (target === undefined) throw new Error(`Not found: Table ${targetId}`);
    if (staging === undefined) throw new Error(`Not found: Table ${stagingId}`);
    const keys = (partition as string).split(',').map((k) => k.trim());
    const targetCols = new Set(target.schema.map((f) => f.name));
    const stagingCols = new Set(staging.schema.map((f) => f.name));
    for (const k of keys) {
      if (!targetCols.has(k) || !stagingCols.has(k)) throw new Error(`Unrecognized name: ${k}`);
    }
    const expectedOn = keys.map((k) => `T.${k} = S.${k}`).join(' AND ');
    if (on !== expectedOn) throw new Error(`ON must match the PARTITION BY keys: ${on}`);
    const setCols = (sets as string).split(',').map((s) => {
      const p = new RegExp(`^${col} = S\\.${col}$`).exec(s.trim());
      if (p === null || p[1] !== p[2]) throw new Error(`Unsupported SET item: ${s}`);
      return p[1] as string;
    });
    const cols = (insertCols as string).split(',').map((c) => c.trim());
    const vals = (insertVals as string).split(',').map((c) => c.trim());
    if (cols.length !== vals.length || cols.some((c, i) => vals[i] !== `S.${c}`))
      throw new Error('INSERT columns and VALUES do not match');
    for (const c of [...setCols, ...cols])
      if (!targetCols.has(c) || !stagingCols.has(c)) throw new Error(`Unrecognized name: ${c}`);
    if (!stagingCols.has('_sluice_op') || !stagingCols.has('_sluice_seq'))
      throw new Error('the staging table lacks _sluice_op or _sluice_seq');
    // The newest staged row per key.
    const keyOf = (row: Json) => JSON.stringify(keys.map((k) => row[k]));
    const latest = new Map<string, Json>();
    for (const row of staging.rows) {
      const k = keyOf(row);
      const prev = latest.get(k);
      if (prev === undefined || Number(row._sluice_seq) > Number(prev._sluice_seq)) latest.set(k, row);
    }
    let affected = 0;
    for (const [k, s] of latest) {
      const index = target.rows.findIndex((t) => keyOf(t) === k);
      if (index >= 0 && s._sluice_op === 'D') {
        target.rows.splice(index, 1);
        affected++;
      } else if (index >= 0) {
        const row = target.rows[index] as Json;
        for (const c of setCols) row[c] = s[c] ?? null;
        affected++;
      } else if (s._sluice_op === 'U') {
        const row: Json = {};
        for (const f of target.schema) row[f.name] = null;
        for (const c of cols) row[c] = s[c] ?? null;
        target.rows.push(row);
        affected++;
      }
    }
    return affected;
  }
}
