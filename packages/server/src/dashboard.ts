/**
 * The dashboard's files: `GET /` answers the page, `/dashboard/<file>` its modules and styles,
 * and `/dashboard/vendor/` uPlot's module and stylesheet, taken from the `uplot` package this
 * package depends on (nothing is loaded from another origin). The files are read once, when the
 * server starts; they hold no data (the page reads the API with the visitor's token).
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';

const TYPES: { [ext: string]: string } = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/** The page's own files, in `../dashboard/` (beside `src/` and `dist/` alike). */
const OWN = ['index.html', 'dashboard.js', 'graph.js', 'charts.js', 'dashboard.css'] as const;

/** Page content: no inline script, no other origin, no framing. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

interface Asset {
  body: Buffer;
  type: string;
}

/** Reads the dashboard's files into memory. */
function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const dir = new URL('../dashboard/', import.meta.url);
  for (const name of OWN) {
    const ext = name.slice(name.lastIndexOf('.') + 1);
    assets.set(name, { body: readFileSync(new URL(name, dir)), type: TYPES[ext] });
  }
  const require = createRequire(import.meta.url);
  assets.set('vendor/uPlot.esm.js', {
    body: readFileSync(require.resolve('uplot/dist/uPlot.esm.js')),
    type: TYPES.js,
  });
  assets.set('vendor/uPlot.min.css', {
    body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')),
    type: TYPES.css,
  });
  return assets;
}

/** Adds the dashboard's routes to `app`. */
export function dashboardRoutes(app: FastifyInstance): void {
  const assets = loadAssets();
  const send = (name: string) => {
    const asset = assets.get(name);
    return asset;
  };
  app.get('/', async (_req, reply) => {
    const page = send('index.html')!;
    return reply
      .type(page.type)
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .send(page.body);
  });
  app.get('/dashboard/*', async (req, reply) => {
    const name = (req.params as { '*': string })['*'];
    const asset = send(name);
    if (!asset) return reply.code(404).send({ error: 'NOT_FOUND', message: `no dashboard file '${name}'` });
    return reply
      .type(asset.type)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .send(asset.body);
  });
}
