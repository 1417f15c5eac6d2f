/**
 * Credentials written into URLs (`http://user:password@host/`), hidden wherever text leaves the
 * process: log lines, error messages, the CLI's last line.
 */

/** A scheme, `://`, and the userinfo up to the last `@` before the host (no `/`, `?`, `#` or space). */
const userinfo = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s/?#"'<>]+)@/g;

/**
 * `text` with the credentials of every URL in it replaced: `scheme://user:password@` becomes
 * `scheme://user:***@`, and a userinfo without a password (often a token) becomes `***@`. Text
 * without `://` is returned as it is; applying it twice changes nothing more.
 */
export function redactUrlCredentials(text: string): string {
  if (!text.includes('://') || !text.includes('@')) return text;
  return text.replace(userinfo, (_all, scheme: string, info: string) => {
    const colon = info.indexOf(':');
    return `${scheme}${colon < 0 ? '***' : `${info.slice(0, colon)}:***`}@`;
  });
}
