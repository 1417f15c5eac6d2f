/**
 * Helpers for the `bigquery` package's tests: the stand-in BigQuery REST server (started by the
 * tests themselves; see `test-support-server.ts`) and unique names. Not a public API.
 */

import { fileURLToPath } from 'node:url';

export { BigQueryStandIn, type Field } from './test-support-server.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const PROJECT = 'sluice-test';
export const DATASET = 'conformance';
/** The bearer token the stand-in expects, given to the sink as `access_token`. */
export const TOKEN = `stand-in-token-${process.pid}`;

let counter = 0;

/** A table name no other test of this process uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
}
