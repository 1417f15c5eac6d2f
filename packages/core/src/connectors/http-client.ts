/**
 * What the HTTP connectors share (the `http` sink, the `http` lookup): request headers with the
 * URL's credentials moved into Basic authentication, the start of a response body for messages,
 * a readable reason for a network failure, and what a failed response says about retrying.
 */

import { SluiceError } from '../errors.ts';

const SNIPPET_BYTES = 500;

/** Whether a response status may pass on another attempt: 408, 429 and 5xx. */
export const isTransientStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/**
 * What a failed response said: the `cause` of the SluiceError it leads to, read by the retries
 * (`retryAfter` of `connectors/backoff.ts` finds its delay).
 */
export class HttpFailure extends Error {
  readonly status: number;
  /** Whether another attempt may succeed. */
  readonly transient: boolean;
  /** Delay asked for by `Retry-After`, in ms. */
  readonly retryAfter: number | undefined;

  constructor(status: number, text: string, retryAfter: number | undefined) {
    super(`HTTP ${status}${text ? `: ${text}` : ''}`);
    this.status = status;
    this.transient = isTransientStatus(status);
    this.retryAfter = retryAfter;
  }
}

/** Reads `Retry-After` (seconds or an HTTP date) as milliseconds from now. */
export function retryAfterOf(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The headers of every request to `url`: `base`, then Basic authentication from credentials in
 * the URL (fetch refuses a URL with credentials, and would echo them in its error), then
 * `headers` (so an `authorization` there overrides the URL's). Removes the credentials from
 * `url`. Throws CONFIG_INVALID at `headers.<name>` for a header fetch would refuse.
 */
export function requestHeaders(
  url: URL,
  headers: { readonly [name: string]: string },
  base: { readonly [name: string]: string } = {},
): Headers {
  const out = new Headers(base);
  if (url.username !== '' || url.password !== '') {
    const user = decodeUserinfo(url.username);
    const password = decodeUserinfo(url.password);
    out.set('authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
    url.username = '';
    url.password = '';
  }
  for (const [name, value] of Object.entries(headers)) {
    try {
      out.set(name, value);
    } catch {
      throw new SluiceError('CONFIG_INVALID', `header '${name}' has an invalid name or value`, {
        path: `headers.${name}`,
      });
    }
  }
  return out;
}

/** A percent-encoded URL username or password as text (as written when it does not decode). */
function decodeUserinfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The first bytes of a response body as text, for error messages; the rest is discarded. */
export async function snippetOf(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < SNIPPET_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const text = Buffer.concat(chunks).toString('utf8', 0, Math.min(size, SNIPPET_BYTES)).trim();
  return size > SNIPPET_BYTES ? `${text}…` : text;
}

/**
 * Why a fetch failed without a response: its message and the network code (`ECONNREFUSED`, …),
 * or, for a cause without a code, the cause's message (`fetch failed (bad port)`).
 */
export function networkReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? err.cause : undefined;
  if (!(cause instanceof Error)) return message;
  const code = 'code' in cause ? cause.code : undefined;
  return `${message} (${typeof code === 'string' ? code : cause.message})`;
}
