/**
 * Hive-style partition paths (`dt=2026-12-06/hour=13/region=EU`) from a record's event time and
 * fields.
 */

import type { Row } from '@sluice/core';

/** What Hive writes for a partition value that is NULL or missing. */
export const NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__';

const TOKENS = /yyyy|MM|dd|HH|mm/g;

/** A compiled partition template: the path segment of each record, from its time and fields. */
export type PartitionPath = (record: Row, time: number) => string;

/**
 * Checks a time template (`dt={yyyy-MM-dd}/hour={HH}`): text outside braces is kept, inside braces
 * `yyyy`, `MM`, `dd`, `HH`, `mm` are the UTC year, month, day, hour and minute of the event time.
 * Returns why it is not one, or undefined.
 */
export function timeTemplateProblem(template: string): string | undefined {
  const open = template.split('{').length - 1;
  const close = template.split('}').length - 1;
  if (open !== close || /\{[^}]*\{/.test(template)) return 'has unbalanced braces';
  if (open === 0) return 'has no `{...}` time field (e.g. `dt={yyyy-MM-dd}`)';
  if (template.startsWith('/') || template.endsWith('/')) return 'starts or ends with `/`';
  for (const m of template.matchAll(/\{([^}]*)\}/g))
    if ((m[1] ?? '').replace(TOKENS, '').match(/[A-Za-z]/))
      return `has '{${m[1]}}': only yyyy, MM, dd, HH and mm go inside braces`;
  return undefined;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Characters Hive escapes in a partition value, besides control characters. */
const ESCAPED = new Set(['"', '#', '%', "'", '*', '/', ':', '=', '?', '\\', '{', '}', '[', ']', '^']);

/**
 * Escapes a partition value as Hive does: characters that would break a path or a `key=value`
 * segment are written as `%XX`.
 */

export function escapeValue(value: string): string {
  let out = '';
  for (const c of value) {
    const code = c.charCodeAt(0);
    out +=
      code < 0x20 || code === 0x7f || ESCAPED.has(c)
        ? `%${code.toString(16).toUpperCase().padStart(2, '0')}`
        : c;
  }
  return out;
}

/** The text of a field's value in a path segment. */
function valueText(value: unknown): string {
  if (value === null || value === undefined) return NULL_PARTITION;
  if (typeof value === 'object') return escapeValue(JSON.stringify(value));
  const text = String(value);
  return text.length === 0 ? NULL_PARTITION : escapeValue(text);
}

/** Compiles `time` (a template, see `timeTemplateProblem`) and `fields` into a path function. */
export function compilePartitionPath(time: string | undefined, fields: readonly string[]): PartitionPath {
  if (time === undefined && fields.length === 0) return () => '';
  let cache = { minute: Number.NaN, text: '' };
  const timePart = (t: number): string => {
    if (time === undefined) return '';
    // Every token is constant within a minute; a batch's records are usually within one.
    const minute = Math.floor(t / 60_000);
    if (minute === cache.minute) return cache.text;
    const d = new Date(minute * 60_000);
    const text = time.replace(/\{([^}]*)\}/g, (_, inner: string) =>
      inner.replace(TOKENS, (token) => {
        switch (token) {
          case 'yyyy':
            return pad(d.getUTCFullYear(), 4);
          case 'MM':
            return pad(d.getUTCMonth() + 1);
          case 'dd':
            return pad(d.getUTCDate());
          case 'HH':
            return pad(d.getUTCHours());
          default:
            return pad(d.getUTCMinutes());
        }
      }),
    );
    cache = { minute, text };
    return text;
  };
  return (record, t) => {
    const parts: string[] = [];
    const head = timePart(t);
    if (head !== '') parts.push(head);
    for (const field of fields) parts.push(`${escapeValue(field)}=${valueText(record[field])}`);
    return parts.join('/');
  };
}
