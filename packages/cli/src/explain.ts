/**
 * Turns an error into the one paragraph `sluice` prints before exiting non-zero.
 */

import { errorCodes, redactUrlCredentials, SluiceError } from '@sluice/core';

/** One paragraph: where, what, and what to do about it. */
export function explain(err: unknown, file: string): string {
  if (err instanceof SluiceError) {
    const info = errorCodes[err.code];
    const hint =
      info.kind === 'user'
        ? 'Fix the pipeline file or the input and run again.'
        : info.kind === 'external'
          ? `A system Sluice talks to failed${info.retryable ? ' (retries were exhausted)' : ''}; check that it is reachable and run again — the job resumes from its last checkpoint.`
          : 'This is a Sluice bug; please report it with this message.';
    const where = err.file ? '' : `${file}: `;
    return `sluice: ${where}${err.describe()}\n${hint}\n`;
  }
  const message = redactUrlCredentials(err instanceof Error ? (err.stack ?? err.message) : String(err));
  return `sluice: ${file}: unexpected error (INTERNAL): ${message}\nThis is a Sluice bug; please report it with this message.\n`;
}
