/** Small helpers shared by the routes: 400 answers and the `limit` query parameter. */

import type { FastifyReply } from 'fastify';

/** The largest `limit` a listing takes. */
export const JSON_LIMIT_MAX = 1000;

/** Answers 400 BAD_REQUEST with `message`. */
export function badRequest(reply: FastifyReply, message: string) {
  return reply.code(400).send({ error: 'BAD_REQUEST', message });
}

/** `limit` from the query: `fallback` when absent, undefined when not an integer from 1 to JSON_LIMIT_MAX. */
export function parseLimit(text: string | undefined, fallback: number): number | undefined {
  if (text === undefined) return fallback;
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= JSON_LIMIT_MAX ? n : undefined;
}
