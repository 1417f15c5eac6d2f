/**
 * What `sluice run` does about dead letters: a warning when every record became one, and the
 * `--max-dead-letters` limit that fails the run.
 *
 * The limit is a count (`0`: any dead letter fails) or a percentage of the records read (`5%`).
 * A count is watched while the job runs and fails it as soon as it is crossed, like a Flink job
 * failure: no final checkpoint, so after fixing the pipeline a rerun reads those records again.
 * Both forms are checked when the run ends (completed or stopped). Either way the exit code is 3.
 */

import { type JobMetrics, SluiceError } from '@sluice/core';

/** The most dead letters a run may produce: a count, or a percentage of the records read. */
export type DeadLetterLimit = { readonly count: number } | { readonly percent: number };

/** Exit code of a run that crossed its dead-letter limit. */
export const deadLetterLimitExit = 3;

/** Parses `--max-dead-letters`: `0`, `100`, `5%`, `0.5%`; undefined when it is neither. */
export function parseDeadLetterLimit(text: string): DeadLetterLimit | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { count: Number(t) };
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (percent && Number(percent[1]) <= 100) return { percent: Number(percent[1]) };
  return undefined;
}

function describeLimit(limit: DeadLetterLimit): string {
  return 'count' in limit ? `${limit.count}` : `${limit.percent}% of the records read`;
}

/** Where the dead letters went, by step (and source, for records that failed to decode). */
function byStep(m: JobMetrics): string {
  const parts: string[] = [];
  for (const [id, c] of Object.entries(m.sources)) if (c.dead > 0) parts.push(`source '${id}' ${c.dead}`);
  for (const [id, c] of Object.entries(m.steps)) if (c.dead > 0) parts.push(`step '${id}' ${c.dead}`);
  return parts.join(', ');
}

/**
 * DEAD_LETTER_LIMIT when the run's dead letters cross `limit`, else undefined. A percentage is
 * judged only at the end (`final`): early on, one dead letter can be all of a few records.
 */
export function limitCrossed(limit: DeadLetterLimit, m: JobMetrics, final: boolean): SluiceError | undefined {
  const crossed =
    'count' in limit
      ? m.deadLetters > limit.count
      : final && m.deadLetters > 0 && (m.deadLetters / Math.max(1, m.recordsIn)) * 100 > limit.percent;
  if (!crossed) return undefined;
  const share =
    m.recordsIn > 0 ? ` (${((m.deadLetters / m.recordsIn) * 100).toFixed(1)}% of ${m.recordsIn} read)` : '';
  return new SluiceError(
    'DEAD_LETTER_LIMIT',
    `${m.deadLetters} dead letter(s)${share} exceed --max-dead-letters ${describeLimit(limit)}${final ? '' : '; the run was failed without a final checkpoint, so a rerun reads those records again'} — by step: ${byStep(m)}. The dead-letter output (or the warnings above) gives each reason`,
  );
}

/**
 * The warning for a run in which every record read became a dead letter and nothing reached a
 * sink, else undefined.
 */
export function allDeadWarning(m: JobMetrics, file: string): string | undefined {
  if (m.recordsIn === 0 || m.deadLetters < m.recordsIn || m.recordsOut > 0) return undefined;
  const typescript = /\.[mc]?ts$/i.test(file)
    ? ` A misspelt field in a TypeScript pipeline does this: \`sluice validate ${file}\` type-checks it.`
    : '';
  return `every record read (${m.recordsIn}) became a dead letter and nothing reached a sink — by step: ${byStep(m)}. The dead-letter output (or the warnings above) gives each reason.${typescript} Add --max-dead-letters 0 to make such a run fail.`;
}
