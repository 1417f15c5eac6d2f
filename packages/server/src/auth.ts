/**
 * Bearer tokens per route group, compared in constant time.
 *
 * Two groups: `read` (the operations API, views, metrics) and `admin` (stopping the job, taking a
 * checkpoint). With a read token set, read routes need it or the admin token; without, they are
 * open (the server listens on loopback unless told otherwise). Admin routes always need the
 * admin token, and answer 403 when none is configured.
 */

import { createHash, timingSafeEqual } from 'node:crypto';

/** The route groups a token opens. */
export type RouteGroup = 'read' | 'admin';

/** Tokens by group; absent: see the module comment. */
export interface ServerTokens {
  readonly read?: string;
  readonly admin?: string;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Whether two secrets are equal, in time that depends on neither (both are hashed to equal length first). */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Why a request may not use a route of `group`, as status and message; undefined when it may. */
export function denied(
  tokens: ServerTokens,
  group: RouteGroup,
  authorization: string | undefined,
): { status: 401 | 403; message: string } | undefined {
  const given = authorization?.startsWith('Bearer ') ? authorization.slice(7).trim() : undefined;
  const admin = tokens.admin !== undefined && given !== undefined && sameSecret(given, tokens.admin);
  if (group === 'admin') {
    if (tokens.admin === undefined)
      return { status: 403, message: 'admin routes are disabled: start the server with an admin token' };
    return admin ? undefined : { status: 401, message: 'this route needs the admin bearer token' };
  }
  if (tokens.read === undefined || admin) return undefined;
  return given !== undefined && sameSecret(given, tokens.read)
    ? undefined
    : { status: 401, message: 'this route needs the read (or admin) bearer token' };
}
