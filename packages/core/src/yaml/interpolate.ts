/**
 * Environment variable interpolation in YAML scalar strings: `${VAR}`, `${VAR:-default}`, and
 * `$${` for a literal `${`.
 */

import { isScalar, parseDocument, Scalar } from 'yaml';

/** Environment variables to read, e.g. `process.env`. */
export type Env = { readonly [name: string]: string | undefined };

/** What interpolating one string gave. */
export type Interpolation =
  | { ok: true; value: string /** The text was exactly one `${...}` reference. */; whole: boolean }
  | { ok: false; message: string };

const reference = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/;

/**
 * Replaces each `${NAME}` with the variable's value and each `${NAME:-text}` with its value, or
 * `text` when it is unset or empty; `$${` gives a literal `${`. Fails, naming the variables, when
 * one without a default is unset, or when a `${` is not a valid reference.
 */
export function interpolate(text: string, env: Env): Interpolation {
  if (!text.includes('${')) return { ok: true, value: text, whole: false };
  let out = '';
  const missing: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      out += text[i];
      i++;
      continue;
    }
    const match = reference.exec(text.slice(i + 2));
    if (!match) {
      return {
        ok: false,
        message: `invalid variable reference at '${text.slice(i, i + 20)}': write \${NAME} or \${NAME:-default}, or $\${ for a literal \${`,
      };
    }
    const [all, name, fallback] = match;
    const value = env[name];
    if (value !== undefined && (value !== '' || fallback === undefined)) out += value;
    else if (fallback !== undefined) out += fallback;
    else missing.push(name);
    i += 2 + all.length;
  }
  if (missing.length > 0) {
    const names = missing.map((n) => `'${n}'`).join(', ');
    const [subject, them] = missing.length === 1 ? ['variable', 'it'] : ['variables', 'them'];
    const verb = missing.length === 1 ? 'is' : 'are';
    return {
      ok: false,
      message: `environment ${subject} ${names} ${verb} not set; set ${them} or give a default with \${${missing[0]}:-value}`,
    };
  }
  return { ok: true, value: out, whole: /^\$\{[^}]*\}$/.test(text) };
}

/**
 * Reads `text` as a plain YAML scalar (`8080` → 8080, `true` → true, `null` → null); text that is
 * not a single plain scalar, or is empty, stays a string.
 */
export function retype(text: string): unknown {
  if (text.trim() === '') return text;
  const doc = parseDocument(text);
  const node = doc.contents;
  if (doc.errors.length > 0 || !isScalar(node) || node.type !== Scalar.PLAIN) return text;
  if (node.range?.[0] !== 0 || node.range[1] !== text.length) return text;
  return node.value;
}
