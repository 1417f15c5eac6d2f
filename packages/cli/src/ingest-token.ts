/**
 * The `ingest` token group: `SLUICE_INGEST_TOKEN` becomes the bearer token of every `http_server`
 * source (the pipeline's ingest endpoints) that sets no `token` of its own — so one variable
 * guards every ingest endpoint, as `SLUICE_READ_TOKEN` and `SLUICE_ADMIN_TOKEN` guard the read
 * and admin routes of `--serve`. A source's own `token` wins. The token is not part of the
 * pipeline's checkpoint fingerprint, so setting or changing it keeps the checkpoints.
 */

import type { Plan } from '@sluice/core';

/** `plan` with `env.SLUICE_INGEST_TOKEN` as the token of its `http_server` sources that have none. */
export function withIngestToken(plan: Plan, env: NodeJS.ProcessEnv): Plan {
  const token = env.SLUICE_INGEST_TOKEN;
  if (token === undefined || token === '') return plan;
  let changed = false;
  const sources = plan.sources.map((s) => {
    if (s.type !== 'http_server') return s;
    const config = s.config as { token?: string };
    if (config.token !== undefined) return s;
    changed = true;
    return { ...s, config: { ...config, token } };
  });
  return changed ? { ...plan, sources } : plan;
}
