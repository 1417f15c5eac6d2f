/**
 * The reference page of the expression language, rendered by running the parser and the
 * compiler on its examples: how each example groups, which fields it reads and what it gives on a
 * sample record are computed, never written by hand, so the page cannot drift from the code.
 */

import { parse as parseYaml } from 'yaml';
import { SluiceError } from './errors.ts';
import { compileExpression } from './expr/compile.ts';
import { castTargetName, formatExpression, formatName } from './expr/format.ts';
import { intervalUnits } from './expr/interval.ts';
import { castTypeNames } from './expr/parse-forms.ts';
import { parseExpression } from './expr/parser.ts';
import { RESERVED } from './expr/token-stream.ts';
import type { Expr } from './expr/types.ts';
import { childrenOf } from './expr/walk.ts';
import {
  expressionSections,
  mistakes,
  precedenceLevels,
  sampleRecord,
  yamlExamples,
} from './expression-examples.ts';

/** The expression with every compound operand in parentheses, showing how it groups. */
export function groupedExpression(e: Expr): string {
  const g = (c: Expr) => (isAtom(c) ? groupedExpression(c) : `(${groupedExpression(c)})`);
  const not = (negated: boolean) => (negated ? 'NOT ' : '');
  switch (e.kind) {
    case 'literal':
    case 'field':
      return formatExpression(e);
    case 'member':
      return `${g(e.object)}.${formatName(e.name)}`;
    case 'index':
      return `${g(e.object)}[${groupedExpression(e.index)}]`;
    case 'unary':
      return e.op === 'not' ? `NOT ${g(e.operand)}` : `${e.op}${g(e.operand)}`;
    case 'binary':
      return `${g(e.left)} ${e.op === 'and' || e.op === 'or' ? e.op.toUpperCase() : e.op} ${g(e.right)}`;
    case 'is':
      return `${g(e.operand)} IS ${not(e.negated)}${e.test.toUpperCase()}`;
    case 'between':
      return `${g(e.operand)} ${not(e.negated)}BETWEEN ${g(e.low)} AND ${g(e.high)}`;
    case 'in':
      return `${g(e.operand)} ${not(e.negated)}IN (${e.list.map(groupedExpression).join(', ')})`;
    case 'like': {
      const op = `${not(e.negated)}${e.caseInsensitive ? 'ILIKE' : 'LIKE'}`;
      return `${g(e.operand)} ${op} ${g(e.pattern)}${e.escape === null ? '' : ` ESCAPE ${g(e.escape)}`}`;
    }
    case 'case': {
      const parts = ['CASE'];
      if (e.operand !== null) parts.push(g(e.operand));
      for (const w of e.whens) parts.push(`WHEN ${g(w.condition)} THEN ${g(w.result)}`);
      if (e.otherwise !== null) parts.push(`ELSE ${g(e.otherwise)}`);
      parts.push('END');
      return parts.join(' ');
    }
    case 'cast':
      return `CAST(${groupedExpression(e.operand)} AS ${castTargetName(e.target)})`;
    case 'call':
      return e.args.every(isAtom)
        ? formatExpression(e)
        : `${e.name}(${e.distinct ? 'DISTINCT ' : ''}${e.args.map(groupedExpression).join(', ')})`;
  }
}

/** Whether a node reads as one unit without parentheses. */
function isAtom(e: Expr): boolean {
  switch (e.kind) {
    case 'literal':
      return !(typeof e.value === 'number' && (e.value < 0 || Object.is(e.value, -0)));
    case 'field':
    case 'call':
    case 'cast':
    case 'case':
      return true;
    case 'member':
    case 'index':
      return isAtom(e.object);
    default:
      return false;
  }
}

/** `customer.address.city`, `items[0]`: a field path with constant indexes, else undefined. */
function pathOf(e: Expr): string | undefined {
  if (e.kind === 'field') return formatName(e.name);
  if (e.kind === 'member') {
    const base = pathOf(e.object);
    return base === undefined ? undefined : `${base}.${formatName(e.name)}`;
  }
  if (e.kind === 'index' && e.index.kind === 'literal') {
    const base = pathOf(e.object);
    return base === undefined ? undefined : `${base}[${formatExpression(e.index)}]`;
  }
  return undefined;
}

/** The record fields an expression reads, as paths, in order of first appearance. */
export function fieldPathsRead(e: Expr): string[] {
  const out: string[] = [];
  const visit = (node: Expr) => {
    const path = pathOf(node);
    if (path !== undefined) {
      if (!out.includes(path)) out.push(path);
      return;
    }
    for (const child of childrenOf(node)) visit(child);
  };
  visit(e);
  return out;
}

/** What an expression gives on the sample record: its value as JSON, or the error code and message. */
export function resultOnSample(text: string): string {
  try {
    const value = compileExpression(text).evaluate(structuredClone(sampleRecord));
    return JSON.stringify(value) ?? 'undefined';
  } catch (err) {
    if (err instanceof SluiceError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

/** The message the parser gives for a mistake; throws when the text parses after all. */
export function syntaxErrorOf(text: string): string {
  try {
    parseExpression(text);
  } catch (err) {
    if (err instanceof SluiceError) return err.message;
    throw err;
  }
  throw new Error(`'${text}' is listed as a mistake but parses`);
}

/** What the YAML library makes of a line of a pipeline file: its value as JSON, or its error. */
export function yamlReading(text: string): string {
  try {
    return JSON.stringify(parseYaml(text));
  } catch (err) {
    return `YAML error: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** The sample record with one top-level field a line. */
function sampleRecordJson(): string {
  const fields = Object.entries(sampleRecord).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  return `{\n${fields.join(',\n')}\n}`;
}

function code(text: string): string {
  const escaped = text.replaceAll('|', '\\|');
  return escaped.includes('`') ? `\`\` ${escaped} \`\`` : `\`${escaped}\``;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/**
 * The Markdown reference page of the expression language: names, literals, field paths and
 * indexes, operators by precedence, the other forms, reserved words, cast types, interval units,
 * comments, the mistakes the parser names, and how YAML reads an expression before Sluice does.
 * Throws when an example does not parse or a listed mistake does.
 */
export function describeExpressions(): string {
  const lines = [
    '# Expressions',
    '',
    'Filters (`filter.where`), computed fields (`map.fields`), the keys of `key_by` and `dedupe`, aggregate fields and their arguments, and `event_time.expression` are SQL scalar expressions. Each is parsed and type-checked once when the pipeline starts and compiled to a function; a mistake in one fails `sluice validate` with its column. Functions are listed in [functions.md](functions.md).',
    '',
    'The tables below are computed from the parser and the compiler: *grouped as* shows how an expression groups (every compound operand in parentheses, names quoted only where needed, strings in single quotes), *reads* the record fields it reads, and *on the sample record* what it gives for this record (or the error that sends the record to dead letters):',
    '',
    '```json',
    sampleRecordJson(),
    '```',
    '',
  ];
  for (const section of expressionSections) {
    lines.push(`## ${section.title}`, '', section.intro, '');
    if (section.evaluate) {
      lines.push(
        '| expression | grouped as | reads | on the sample record | note |',
        '|---|---|---|---|---|',
      );
    } else {
      lines.push('| expression | grouped as | reads | note |', '|---|---|---|---|');
    }
    for (const example of section.examples) {
      const tree = parseExpression(example.text);
      const reads = fieldPathsRead(tree).map(code).join(', ') || '—';
      const cells = [code(example.text), code(groupedExpression(tree)), reads];
      if (section.evaluate) cells.push(code(resultOnSample(example.text)));
      cells.push(cell(example.note));
      lines.push(`| ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  lines.push(
    '## Precedence',
    '',
    'From loosest to tightest binding (as in PostgreSQL); operators of one level group from the left. Parentheses override it.',
    '',
    '| level | operators | example | grouped as |',
    '|---|---|---|---|',
  );
  precedenceLevels.forEach((level, i) => {
    const grouped = groupedExpression(parseExpression(level.example));
    lines.push(`| ${i + 1} | ${level.operators} | ${code(level.example)} | ${code(grouped)} |`);
  });
  lines.push(
    '',
    '## Reserved words',
    '',
    `These words cannot name a field unless double-quoted (\`"end"\`); like every keyword and function name they are case-insensitive: ${[...RESERVED].map(code).join(', ')}.`,
    '',
    '## Types of `CAST`',
    '',
    `\`CAST(x AS type)\` and \`x::type\` take ${castTypeNames.map(code).join(', ')} (and \`DOUBLE PRECISION\`), without modifiers such as \`VARCHAR(10)\`. The functions page says what each conversion accepts.`,
    '',
    '## Interval units',
    '',
    `\`INTERVAL '5' MINUTE\`, \`INTERVAL '90s'\` and \`INTERVAL '1 hour 30 minutes'\` are numbers of milliseconds. Units (case-insensitive): ${intervalUnits.map(code).join(', ')}. Months and years have no fixed length and are refused.`,
    '',
    '## Comments',
    '',
    '`-- …` runs to the end of the line; `/* … */` may span lines.',
    '',
    '## Mistakes the parser names',
    '',
    '| expression | message |',
    '|---|---|',
  );
  for (const text of mistakes) lines.push(`| ${code(text)} | ${cell(syntaxErrorOf(text))} |`);
  lines.push(
    '',
    '## Expressions inside YAML',
    '',
    'YAML reads a pipeline file before Sluice reads an expression in it, and YAML has quoting rules of its own. What the YAML library makes of each line (as JSON):',
    '',
    '| in the pipeline file | YAML gives | note |',
    '|---|---|---|',
  );
  for (const example of yamlExamples.filter((e) => !e.yaml.includes('\n'))) {
    lines.push(`| ${code(example.yaml)} | ${code(yamlReading(example.yaml))} | ${cell(example.note)} |`);
  }
  for (const example of yamlExamples.filter((e) => e.yaml.includes('\n'))) {
    lines.push(
      '',
      example.note,
      '',
      '<!-- yaml: fragment -->',
      '```yaml',
      example.yaml.trimEnd(),
      '```',
      '',
      `YAML gives ${code(yamlReading(example.yaml))}.`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
