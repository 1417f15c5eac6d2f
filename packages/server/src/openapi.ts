/**
 * The OpenAPI 3.1 description of a served job (`GET /api/openapi.json`): the operations routes,
 * and for each view its lookup, scan and change routes with the row schema the plan inferred for
 * the view's input (fields and types; an input of unknown shape gives an open object), so that
 * clients can be generated for the views a pipeline serves.
 */

import type { Job } from '@sluice/core';

/** A JSON Schema object. */
type JsonSchema = { [k: string]: unknown };

/** What the plan knows of a stream's records (`Plan.schemas`). */
interface RecordSchema {
  readonly fields: readonly FieldSchema[];
  readonly open: boolean;
}
interface FieldSchema {
  readonly name: string;
  readonly type: string;
  readonly schema?: RecordSchema;
  readonly nullable?: boolean;
}

/** JSON Schema of one field's values. */
function fieldSchema(f: FieldSchema): JsonSchema {
  let s: JsonSchema;
  switch (f.type) {
    case 'number':
    case 'string':
    case 'boolean':
      s = { type: f.type };
      break;
    case 'timestamp':
      s = { description: 'a timestamp (epoch milliseconds or ISO 8601 text)' };
      break;
    case 'object':
      s = f.schema ? recordSchema(f.schema) : { type: 'object' };
      break;
    case 'array':
      s = { type: 'array' };
      break;
    case 'null':
      s = { type: 'null' };
      break;
    default:
      s = {};
  }
  if (f.nullable && typeof s.type === 'string' && s.type !== 'null') s = { ...s, type: [s.type, 'null'] };
  return s;
}

/** JSON Schema of a record. */
export function recordSchema(schema: RecordSchema | undefined): JsonSchema {
  if (schema === undefined) return { type: 'object' };
  return {
    type: 'object',
    properties: Object.fromEntries(schema.fields.map((f) => [f.name, fieldSchema(f)])),
    required: schema.fields.filter((f) => !f.nullable).map((f) => f.name),
    additionalProperties: schema.open,
  };
}

const json = (schema: JsonSchema, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const error = (description: string) => json({ $ref: '#/components/schemas/Error' }, description);
const ANY = { type: 'object' };

/** A view as `serve` names it, and the stream it reads. */
export interface ViewInfo {
  readonly name: string;
  readonly input: string;
  readonly key: readonly string[] | undefined;
}

/** The OpenAPI document of `job` and its `views`; `hasReadToken`: read routes need a token. */
export function openApiDocument(job: Job, views: readonly ViewInfo[], hasReadToken: boolean) {
  const schemas: { readonly [id: string]: RecordSchema } | undefined = job.plan.schemas;
  const read = hasReadToken ? [{ bearer: [] }] : [];
  const admin = [{ bearer: [] }];
  const get = (summary: string, ok: object, more: object = {}) => ({
    get: { summary, security: read, responses: { 200: ok, 401: error('missing or wrong token') }, ...more },
  });
  const post = (summary: string, ok: object, more: object = {}) => ({
    post: {
      summary,
      security: admin,
      responses: {
        ...ok,
        401: error('missing or wrong admin token'),
        403: error('no admin token configured'),
      },
      ...more,
    },
  });
  const paths: { [path: string]: object } = {
    '/api/job': get('Status, totals, watermark and last checkpoint of the job.', json(ANY, 'the job')),
    '/api/steps': get(
      'Every source, step and sink with counters, rates, watermarks and queue fill.',
      json(ANY, 'the step graph'),
    ),
    '/api/checkpoints': {
      ...get('The last checkpoints, newest first.', json(ANY, 'checkpoint history')),
      ...post('Takes a checkpoint now.', {
        200: json(ANY, 'the checkpoint taken'),
        409: error('the job is not running'),
      }),
    },
    '/api/dead-letters': get('The recent dead letters, newest first, with ids.', json(ANY, 'dead letters'), {
      parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } }],
    }),
    '/api/dead-letters/replay': post(
      'Sends the selected dead letters back to the step or sink that rejected them.',
      {
        200: json(
          {
            type: 'object',
            properties: {
              replayed: { type: 'array', items: { type: 'integer' } },
              refused: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { id: { type: 'integer' }, reason: { type: 'string' } },
                },
              },
            },
            required: ['replayed', 'refused'],
          },
          'what was replayed and what was refused, with reasons',
        ),
        400: error('the body is not { ids: [...] }'),
        409: error('the job is not running or is taking a checkpoint'),
      },
      {
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  ids: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1, maxItems: 1000 },
                },
                required: ['ids'],
              },
            },
          },
        },
      },
    ),
    '/api/job/stop': post('Stops the job gracefully (drain, final checkpoint).', {
      202: json(ANY, 'stopping'),
    }),
    '/api/views': get('The views: name, key fields, rows, offset.', json(ANY, 'the views')),
    '/api/openapi.json': get('This document.', json(ANY, 'the OpenAPI document')),
    '/metrics': get('Prometheus metrics.', { description: 'text format', content: { 'text/plain': {} } }),
  };
  const components: { [name: string]: JsonSchema } = {
    Error: {
      type: 'object',
      properties: { error: { type: 'string' }, message: { type: 'string' } },
      required: ['error', 'message'],
    },
  };
  for (const view of views) {
    const row = `${view.name}_row`;
    components[row] = recordSchema(schemas?.[view.input]);
    const entry = {
      type: 'object',
      properties: {
        key: { type: 'string' },
        offset: { type: 'integer' },
        row: { $ref: `#/components/schemas/${row}` },
      },
      required: ['key', 'offset', 'row'],
    };
    const base = `/api/views/${view.name}`;
    const keyDoc =
      view.key && view.key.length > 1
        ? `the JSON array of the values of ${view.key.join(', ')}`
        : `the value of ${view.key?.[0] ?? 'the key field'} as text`;
    paths[base] = get(
      `Rows of view ${view.name} in key order: a prefix or a range [start, end) of keys, pages (after, limit), a row filter (where). A filtered page looks at up to 10,000 rows and may hold fewer than limit; follow next until it is absent.`,
      json(
        {
          type: 'object',
          properties: {
            view: { type: 'string' },
            offset: { type: 'integer' },
            rows: { type: 'array', items: entry },
            next: { type: 'string' },
          },
          required: ['view', 'offset', 'rows'],
        },
        'a page of rows',
      ),
      {
        parameters: [
          { name: 'prefix', in: 'query', schema: { type: 'string' } },
          { name: 'start', in: 'query', description: 'first key (inclusive)', schema: { type: 'string' } },
          { name: 'end', in: 'query', description: 'end key (exclusive)', schema: { type: 'string' } },
          {
            name: 'after',
            in: 'query',
            description: 'continue after this key: the next of the previous page',
            schema: { type: 'string' },
          },
          {
            name: 'where',
            in: 'query',
            description:
              "a condition on the row fields, as in a filter step, e.g. v >= 100 AND sensor LIKE 's1%'",
            schema: { type: 'string' },
          },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
        ],
      },
    );
    paths[`${base}/{key}`] = get(`The row of view ${view.name} for one key.`, json(entry, 'the row'), {
      parameters: [
        { name: 'key', in: 'path', required: true, description: keyDoc, schema: { type: 'string' } },
      ],
    });
    paths[`${base}/changes`] = get(
      `Changes of view ${view.name} as Server-Sent Events: \`change\` events (data: { offset, op, key, row? }), and a \`reset\` event (data: { op: "reset", offset, rows: [{ key, offset, row }] }, the whole view) when the offset asked for is no longer kept.`,
      { description: 'an event stream', content: { 'text/event-stream': {} } },
      { parameters: [{ name: 'from', in: 'query', schema: { type: 'integer', minimum: 0 } }] },
    );
  }
  return {
    openapi: '3.1.0',
    info: {
      title: `Sluice pipeline ${job.plan.name}`,
      version: '1',
      description:
        'Operations API and views of a running Sluice job. WebSocket change feeds are at /api/views/{name}/ws?from= (not described by OpenAPI).',
    },
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
  };
}
