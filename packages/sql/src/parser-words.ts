/**
 * The words the statement parser treats specially, and how it names tokens in messages.
 */

import { describeToken, type Token } from '@sluice/core';

/** Words that end a select item or a FROM item, so that they are never read as an alias. */
export const CLAUSE_WORDS = new Set([
  'FROM',
  'WHERE',
  'GROUP',
  'HAVING',
  'ORDER',
  'LIMIT',
  'UNION',
  'JOIN',
  'LEFT',
  'RIGHT',
  'FULL',
  'INNER',
  'CROSS',
  'ON',
  'WINDOW',
  'END',
  'MATCH_RECOGNIZE',
]);

/** Flink SQL this front end does not plan yet, by the word that starts it in a query. */
export const NOT_YET: { readonly [word: string]: string } = {
  CROSS: 'CROSS JOIN (Sluice joins by key: write JOIN … ON a.k = b.k)',
};

export const SUPPORTED =
  "CREATE TABLE, CREATE [TEMPORARY] VIEW, CREATE [TEMPORARY] MODEL, CREATE [TEMPORARY] FUNCTION, INSERT INTO … SELECT, EXECUTE STATEMENT SET BEGIN … END, EXPLAIN and SET 'key' = 'value'";

/** Flink's EXPLAIN details, accepted after EXPLAIN (the plan printed has all it knows). */
export const EXPLAIN_DETAILS = new Set([
  'ESTIMATED_COST',
  'CHANGELOG_MODE',
  'PLAN_ADVICE',
  'JSON_EXECUTION_PLAN',
]);

/** How a token reads in a message. */
export function describe(t: Token): string {
  return describeToken(t, 'the end of the script');
}
