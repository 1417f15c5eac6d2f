/**
 * "Did you mean" suggestions for misspelt option names, types and ids: the same edit distance as
 * expressions' suggestions, with a limit that grows with the name (option names are longer).
 */

import { editDistance } from '../expr/suggest.ts';

/** The candidate closest to `name` when it is close enough to be a likely typo, else undefined. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === name) continue;
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
