/**
 * Turns an error into the one paragraph `sluice` prints before exiting non-zero.
 */

import { errorCodes, redactUrlCredentials, SluiceError } from '@sluice/core';

/** Advice for file-system errors, by errno code. */
const fileSystemAdvice: { readonly [code: string]: string } = {
  EACCES:
    'Permission denied: let the user running sluice write there (check the owner and mode of the folder), or choose another path in the pipeline file.',
  EPERM:
    'The operation is not permitted on that path: choose another path in the pipeline file, or check its owner and mode.',
  EROFS: 'The file system is read-only: choose a writable path in the pipeline file.',
  ENOSPC:
    'The disk is full: free space or choose another path, then run again — the job resumes from its last checkpoint.',
  EDQUOT: 'The disk quota is exhausted: free space or choose another path, then run again.',
  ENOENT: 'A file or folder on that path does not exist: check the path in the pipeline file.',
  ENOTDIR: 'A part of that path is a file, not a folder: check the path in the pipeline file.',
  EISDIR: 'That path is a folder, not a file: check the path in the pipeline file.',
  EMFILE: 'Too many open files: raise the limit (ulimit -n) and run again.',
};

/** The errno code (`EACCES`) of the first error in the cause chain that has one. */
function errnoOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

/** What to do about a SluiceError: fix the file, look at the file system or the network, or report a bug. */
function advice(err: SluiceError): string {
  const info = errorCodes[err.code];
  if (info.kind === 'user') return 'Fix the pipeline file or the input and run again.';
  if (info.kind === 'internal') return 'This is a Sluice bug; please report it with this message.';
  const errno = errnoOf(err);
  if (errno !== undefined && fileSystemAdvice[errno] !== undefined) return fileSystemAdvice[errno];
  if (err.code === 'IO_ERROR')
    return 'A file-system operation failed: check the path, its permissions and free space, then run again — the job resumes from its last checkpoint.';
  return `A system Sluice talks to failed${info.retryable ? ' (retries were exhausted)' : ''}; check that it is reachable and run again — the job resumes from its last checkpoint.`;
}

/** One paragraph: where, what, and what to do about it. */
export function explain(err: unknown, file: string): string {
  if (err instanceof SluiceError) {
    const where = err.file ? '' : `${file}: `;
    return `sluice: ${where}${err.describe()}\n${advice(err)}\n`;
  }
  const message = redactUrlCredentials(err instanceof Error ? (err.stack ?? err.message) : String(err));
  return `sluice: ${file}: unexpected error (INTERNAL): ${message}\nThis is a Sluice bug; please report it with this message.\n`;
}
