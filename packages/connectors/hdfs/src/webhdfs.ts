/**
 * A small WebHDFS client: the NameNode's REST API (`/webhdfs/v1/<path>?op=…`) over Node's fetch,
 * following its redirects to a DataNode for the data of CREATE and APPEND, with the server's
 * `RemoteException` turned into a `WebHdfsError` that says whether another attempt may succeed.
 * No retries here: the caller decides (see `isTransient`).
 *
 * The data of CREATE and APPEND goes over `node:http`, not fetch: the DataNode answers those
 * with an interim `100 Continue` whether asked or not, which Node's fetch (undici) takes for a
 * broken response, while `node:http` skips it as HTTP allows.
 */

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** One entry of a folder listing or a path's status, the fields the sink reads. */
export interface FileStatus {
  /** The entry's name in its folder (empty for the path asked about itself). */
  pathSuffix: string;
  type: 'FILE' | 'DIRECTORY' | 'SYMLINK';
  length: number;
}

/** How to reach a NameNode. */
export interface WebHdfsOptions {
  /** The NameNode's HTTP address, `http://host:9870` (the `/webhdfs/v1` root is added). */
  readonly url: string;
  /** Sent as `user.name` (simple authentication); absent: the server's default user. */
  readonly user?: string;
  /** Sent as `delegation` (a delegation token): a secret, never in an error or a log. */
  readonly delegation?: string;
  /** Longest time one HTTP request may take, in milliseconds. */
  readonly timeoutMs: number;
  /** Aborts every request in flight (the job stops). */
  readonly signal?: AbortSignal;
}

/**
 * Exceptions a NameNode or DataNode reports for a state that passes (failover, safe mode, a
 * lease not yet recovered): WebHDFS answers them with 403 like a refusal, so they are told
 * apart by name.
 */
const TRANSIENT_EXCEPTIONS = new Set([
  'StandbyException',
  'RetriableException',
  'SafeModeException',
  'RecoveryInProgressException',
  'AlreadyBeingCreatedException',
  'LeaseExpiredException',
  'NotReplicatedYetException',
  'ObserverRetryOnActiveException',
]);

/** A WebHDFS request that failed: the server's refusal, or no answer (`status` undefined). */
export class WebHdfsError extends Error {
  /** HTTP status of the answer; undefined when there was none (connection refused, timeout). */
  readonly status: number | undefined;
  /** The Java exception the server named (`FileNotFoundException`), if any. */
  readonly exception: string | undefined;

  constructor(message: string, status: number | undefined, exception?: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'WebHdfsError';
    this.status = status;
    this.exception = exception;
  }

  /**
   * Whether another attempt may succeed: no answer, a server error (5xx), throttling (429), a
   * timeout (408), or an exception of a passing state (standby NameNode, safe mode, lease
   * recovery). A refusal — no permission, a bad path, a file in the way — is not.
   */
  get transient(): boolean {
    if (this.status === undefined) return true;
    if (this.exception !== undefined && TRANSIENT_EXCEPTIONS.has(this.exception)) return true;
    return this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

/** Whether a failure of a WebHDFS call may pass: see `WebHdfsError.transient`. */
export function isTransient(err: unknown): boolean {
  return err instanceof WebHdfsError && err.transient;
}

/** The path of `path` in a URL: each segment percent-encoded, `/` kept. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The code of a connection failure (`ECONNREFUSED`), on the error or under a fetch `TypeError`. */
function causeCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  if (typeof e?.code === 'string') return e.code;
  return typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
}

export class WebHdfs {
  readonly #options: WebHdfsOptions;
  readonly #root: string;

  constructor(options: WebHdfsOptions) {
    this.#options = options;
    this.#root = `${options.url.replace(/\/+$/, '')}/webhdfs/v1`;
  }

  /** The URL of `op` on `path`; holds the delegation token, so it never goes into a message. */
  #url(path: string, op: string, params: { [k: string]: string | number | boolean }): string {
    const query = new URLSearchParams({ op });
    for (const [k, v] of Object.entries(params)) query.set(k, String(v));
    if (this.#options.user !== undefined) query.set('user.name', this.#options.user);
    if (this.#options.delegation !== undefined) query.set('delegation', this.#options.delegation);
    return `${this.#root}${encodePath(path)}?${query}`;
  }

  /** One HTTP request; a failure to get an answer is a `WebHdfsError` without status. */
  async #fetch(what: string, url: string, init: RequestInit): Promise<Response> {
    const { signal, timeout } = this.#signal();
    try {
      return await fetch(url, { ...init, redirect: 'manual', signal });
    } catch (err) {
      if (this.#options.signal?.aborted) throw err;
      throw this.#unanswered(what, err, timeout);
    }
  }

  /** Sends `body` to a DataNode's `url` (over `node:http`: see the top of this file). */
  async #upload(what: string, method: 'PUT' | 'POST', url: string, body: Uint8Array): Promise<void> {
    const { signal, timeout } = this.#signal();
    const target = new URL(url);
    let answer: { status: number; text: string };
    try {
      answer = await new Promise((resolve, reject) => {
        const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(
          target,
          {
            method,
            signal,
            headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
          },
          (response: IncomingMessage) => {
            const chunks: Buffer[] = [];
            response.on('data', (c: Buffer) => chunks.push(c));
            response.on('end', () =>
              resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
            );
            response.on('error', reject);
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    } catch (err) {
      if (this.#options.signal?.aborted) throw err;
      throw this.#unanswered(what, err, timeout);
    }
    if (answer.status < 200 || answer.status > 299) throw this.#failure(what, answer.status, answer.text);
  }

  /** The error of a failed answer, from its `RemoteException` body when it has one. */
  #failure(what: string, status: number, text: string): WebHdfsError {
    let exception: string | undefined;
    let message = text.slice(0, 300);
    try {
      const remote = (JSON.parse(text) as { RemoteException?: { exception?: string; message?: string } })
        .RemoteException;
      if (remote !== undefined) {
        exception = remote.exception;
        message = `${remote.exception ?? 'RemoteException'}: ${remote.message ?? ''}`;
      }
    } catch {
      // Not JSON (a proxy's page): its text is the message.
    }
    return new WebHdfsError(
      `${what}: HTTP ${status}${message === '' ? '' : ` ${message}`}`,
      status,
      exception,
    );
  }

  /** The error of a failed fetch answer. */
  async #failed(what: string, response: Response): Promise<WebHdfsError> {
    return this.#failure(what, response.status, await response.text().catch(() => ''));
  }

  /** The error for a request that got no answer. */
  #unanswered(what: string, err: unknown, timeout: AbortSignal): WebHdfsError {
    const reason = timeout.aborted
      ? `no answer within ${this.#options.timeoutMs} ms`
      : `no answer (${causeCode(err) ?? (err instanceof Error ? err.message : String(err))})`;
    // The cause is left out: the client's errors can carry the URL, and the URL the token.
    return new WebHdfsError(`${what}: ${reason}`, undefined);
  }

  /** The signal of one request: the job's, and a timeout. */
  #signal(): { signal: AbortSignal; timeout: AbortSignal } {
    const timeout = AbortSignal.timeout(this.#options.timeoutMs);
    const signal =
      this.#options.signal === undefined ? timeout : AbortSignal.any([this.#options.signal, timeout]);
    return { signal, timeout };
  }

  /** A request answered by the NameNode with JSON. */
  async #json<T>(
    what: string,
    method: string,
    path: string,
    op: string,
    params: { [k: string]: string | number | boolean } = {},
  ): Promise<T> {
    const response = await this.#fetch(what, this.#url(path, op, params), { method });
    if (!response.ok) throw await this.#failed(what, response);
    return (await response.json()) as T;
  }

  /**
   * A request whose data goes to a DataNode: the NameNode is asked without a body and answers
   * with a redirect (307) to the DataNode, which takes the data.
   */
  async #data(
    what: string,
    method: 'PUT' | 'POST',
    path: string,
    op: string,
    params: { [k: string]: string | number | boolean },
    body: Uint8Array,
  ): Promise<void> {
    const first = await this.#fetch(what, this.#url(path, op, params), { method });
    const location = first.headers.get('location');
    if (first.status !== 307 || location === null) {
      if (!first.ok) throw await this.#failed(what, first);
      await first.body?.cancel();
      throw new WebHdfsError(
        `${what}: the NameNode answered ${first.status} without a redirect`,
        first.status,
      );
    }
    await first.body?.cancel();
    await this.#upload(what, method, location, body);
  }

  /** Writes `body` as the file `path` (replacing one there), creating missing parent folders. */
  create(path: string, body: Uint8Array): Promise<void> {
    return this.#data(`creating ${path}`, 'PUT', path, 'CREATE', { overwrite: true }, body);
  }

  /** Appends `body` to the file `path`. Not idempotent: see the sink for how it retries. */
  append(path: string, body: Uint8Array): Promise<void> {
    return this.#data(`appending to ${path}`, 'POST', path, 'APPEND', {}, body);
  }

  /** Renames `from` to `to`; false when HDFS did not (`from` missing, `to`'s folder missing or `to` there). */
  async rename(from: string, to: string): Promise<boolean> {
    const out = await this.#json<{ boolean: boolean }>(`renaming ${from} to ${to}`, 'PUT', from, 'RENAME', {
      destination: to,
    });
    return out.boolean;
  }

  /** Deletes `path` (a folder with what it holds when `recursive`); false when it was not there. */
  async delete(path: string, recursive = false): Promise<boolean> {
    const out = await this.#json<{ boolean: boolean }>(`deleting ${path}`, 'DELETE', path, 'DELETE', {
      recursive,
    });
    return out.boolean;
  }

  /** Creates the folder `path` and its missing parents (nothing when it is there). */
  async mkdirs(path: string): Promise<void> {
    const out = await this.#json<{ boolean: boolean }>(`creating the folder ${path}`, 'PUT', path, 'MKDIRS');
    if (!out.boolean) throw new WebHdfsError(`creating the folder ${path}: refused`, 403);
  }

  /** Cuts the file `path` to `length` bytes; false while HDFS recovers its last block (try again). */
  async truncate(path: string, length: number): Promise<boolean> {
    const out = await this.#json<{ boolean: boolean }>(`truncating ${path}`, 'POST', path, 'TRUNCATE', {
      newlength: length,
    });
    return out.boolean;
  }

  /** The status of `path`, or undefined when there is nothing there. */
  async status(path: string): Promise<FileStatus | undefined> {
    try {
      return (
        await this.#json<{ FileStatus: FileStatus }>(
          `reading the status of ${path}`,
          'GET',
          path,
          'GETFILESTATUS',
        )
      ).FileStatus;
    } catch (err) {
      if (err instanceof WebHdfsError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** The entries of the folder `path`, or undefined when there is no such folder. */
  async list(path: string): Promise<FileStatus[] | undefined> {
    try {
      return (
        await this.#json<{ FileStatuses: { FileStatus: FileStatus[] } }>(
          `listing ${path}`,
          'GET',
          path,
          'LISTSTATUS',
        )
      ).FileStatuses.FileStatus;
    } catch (err) {
      if (err instanceof WebHdfsError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** The bytes of the file `path` (the NameNode redirects the read to a DataNode). */
  async read(path: string): Promise<Uint8Array> {
    const what = `reading ${path}`;
    let url = this.#url(path, 'OPEN', {});
    for (let hop = 0; hop < 3; hop++) {
      const response = await this.#fetch(what, url, { method: 'GET' });
      const location = response.headers.get('location');
      if (response.status === 307 && location !== null) {
        await response.body?.cancel();
        url = location;
        continue;
      }
      if (!response.ok) throw await this.#failed(what, response);
      return new Uint8Array(await response.arrayBuffer());
    }
    throw new WebHdfsError(`${what}: too many redirects`, undefined);
  }
}

/**
 * One attempt at appending `body` to the file `path`, which held `before` bytes when the first
 * attempt began. An append is not idempotent, so an attempt after a failed one (`retried`) first
 * reads the file's length: when the failed append landed whole there is nothing to do; when it
 * landed in part the file is cut back to `before` first. A cut that HDFS must finish by
 * recovering the last block is reported as transient: the next attempt looks again.
 */
export async function appendAttempt(
  client: WebHdfs,
  path: string,
  before: number,
  body: Uint8Array,
  retried: boolean,
): Promise<void> {
  if (retried) {
    const length = (await client.status(path))?.length;
    if (length === before + body.length) return;
    if (length !== before && !(await client.truncate(path, before)))
      throw new WebHdfsError(`truncating ${path}: HDFS is recovering its last block`, 503);
  }
  await client.append(path, body);
}
