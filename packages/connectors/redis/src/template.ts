/**
 * Key templates: `user:{user_id}` — literal text with record fields in braces, filled from each
 * record to name the Redis key (or channel, or member) it is written under.
 */

import type { Row } from '@sluice/core';
import { SluiceError } from '@sluice/core';
import { fieldText } from './encode.ts';

/** A parsed template: literal parts around field names (`parts.length === fields.length + 1`). */
export interface Template {
  readonly text: string;
  readonly parts: readonly string[];
  readonly fields: readonly string[];
}

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses `text`; throws CONFIG_INVALID naming `path` for an unclosed brace, a brace inside a
 * field name or a name that is not an identifier. `{{` and `}}` stand for literal braces.
 */
export function parseTemplate(text: string, path: string, step?: string): Template {
  const parts: string[] = [];
  const fields: string[] = [];
  let literal = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ((c === '{' || c === '}') && text[i + 1] === c) {
      literal += c;
      i++;
    } else if (c === '{') {
      const end = text.indexOf('}', i + 1);
      const name = end < 0 ? '' : text.slice(i + 1, end);
      if (end < 0 || !FIELD.test(name))
        throw new SluiceError(
          'CONFIG_INVALID',
          `template '${text}' has ${end < 0 ? 'an unclosed {' : `'{${name}}', which is not a field name`}: write fields as {field}, literal braces as {{ and }}`,
          { step, path },
        );
      parts.push(literal);
      fields.push(name);
      literal = '';
      i = end;
    } else if (c === '}') {
      throw new SluiceError(
        'CONFIG_INVALID',
        `template '${text}' has a } with no {: write a literal } as }}`,
        {
          step,
          path,
        },
      );
    } else literal += c;
  }
  parts.push(literal);
  return { text, parts, fields };
}

/**
 * The template filled from `record`, or `{ problem }` when a field it names is missing or NULL
 * (the record then goes to the dead letters with it).
 */
export function fillTemplate(template: Template, record: Row): string | { problem: string } {
  const { parts, fields } = template;
  let out = parts[0] as string;
  for (let i = 0; i < fields.length; i++) {
    const name = fields[i] as string;
    const value = record[name];
    if (value === null || value === undefined)
      return { problem: templateProblem(template, record) as string };
    out += fieldText(value) + (parts[i + 1] as string);
  }
  return out;
}

/** Why `template` cannot be filled from `record` (as `fillTemplate`), or undefined when it can. */
export function templateProblem(template: Template, record: Row): string | undefined {
  const { fields } = template;
  for (let i = 0; i < fields.length; i++) {
    const name = fields[i] as string;
    const value = record[name];
    if (value === null || value === undefined)
      return `field '${name}' of template '${template.text}' is ${value === null ? 'NULL' : 'missing'}`;
  }
  return undefined;
}
