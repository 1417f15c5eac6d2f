/**
 * Two YAML traps of flow style (`{ a: x, b: y }`, `[x, y]`), where `,`, `{` and `}` are syntax:
 * an expression with a comma (`round(sum(t), 1)`) is split into several entries, and `${VAR}`
 * starts a nested map. Both are recognised here and explained with the fix (quote, or use block
 * style).
 */

import { isMap, isPair, isScalar, Scalar, type YAMLMap, type YAMLSeq } from 'yaml';

/** A value that YAML split at its commas: where it starts and ends in the text, and where it sits. */
export interface SplitValue {
  /** Offsets of the whole value in the text (from its first to its last fragment). */
  readonly start: number;
  readonly end: number;
  /** Index of the map entry or list item holding the first fragment. */
  readonly index: number;
  /** Whether the first fragment is a map key rather than a value. */
  readonly isKey: boolean;
}

type Range = [number, number, number];

/**
 * Finds the first value of a flow map or list that YAML split at a comma: a plain scalar that
 * opens more parentheses than it closes, together with the scalars after it up to the one that
 * closes them. Undefined when the collection is not in flow style or nothing was split.
 */
export function findSplitValue(node: YAMLMap | YAMLSeq): SplitValue | undefined {
  if (!node.flow) return undefined;
  const scalars: { node: Scalar; index: number; isKey: boolean }[] = [];
  for (const [index, item] of node.items.entries()) {
    if (isMap(node) || isPair(item)) {
      const pair = item as { key: unknown; value: unknown };
      if (isScalar(pair.key)) scalars.push({ node: pair.key, index, isKey: true });
      if (isScalar(pair.value)) scalars.push({ node: pair.value, index, isKey: false });
    } else if (isScalar(item)) {
      scalars.push({ node: item, index, isKey: false });
    }
  }
  for (let i = 0; i < scalars.length; i++) {
    let depth = parenDepth(scalars[i].node);
    if (depth <= 0) continue;
    for (let j = i + 1; j < scalars.length && depth > 0; j++) {
      depth += parenDepth(scalars[j].node);
      const first = scalars[i];
      const last = scalars[j];
      const start = (first.node.range as Range | undefined)?.[0];
      const end = (last.node.range as Range | undefined)?.[1];
      if (depth <= 0 && start !== undefined && end !== undefined)
        return { start, end, index: first.index, isKey: first.isKey };
    }
  }
  return undefined;
}

/** Parentheses a plain scalar opens minus those it closes, outside SQL quotes; 0 for quoted ones. */
function parenDepth(node: Scalar): number {
  if (node.type !== Scalar.PLAIN || typeof node.value !== 'string') return 0;
  let depth = 0;
  let quote = '';
  for (const c of node.value) {
    if (quote !== '') {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
  }
  return depth;
}

/** The message for a split value: the text as written, and how to write it. */
export function splitValueMessage(
  text: string,
  split: SplitValue,
  key: string | undefined,
  flowMap: boolean,
) {
  const written = text.slice(split.start, split.end);
  const quoted = JSON.stringify(written);
  const fix = flowMap
    ? `Quote the expression — ${key === undefined ? '' : `${key}: `}${quoted} — or write the map in block style, one entry per line`
    : `Quote the expression — ${quoted} — or write the list in block style, one item per line`;
  return `YAML split '${written}' at its comma: inside ${flowMap ? '{ … }' : '[ … ]'} a comma separates entries. ${fix}`;
}

/**
 * For a YAML syntax error at `offset` caused by `${VAR}` in a flow collection (YAML reads its
 * `{` as the start of a map): the offset where the value starts and the message saying to quote
 * it. Undefined for any other syntax error.
 */
export function variableInFlowHint(
  text: string,
  offset: number,
): { start: number; message: string } | undefined {
  if (text[offset] !== '{' || text[offset - 1] !== '$') return undefined;
  let start = offset - 1;
  while (start > 0 && !/[\s,[{:]/.test(text[start - 1])) start--;
  let end = offset - 1;
  let depth = 0;
  while (end < text.length && text[end] !== '\n') {
    const c = text[end];
    if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0) break;
      depth--;
    } else if (depth === 0 && (c === ',' || c === ']')) break;
    end++;
  }
  const value = text.slice(start, end).trimEnd();
  const variable = /\$\{[^}]*\}/.exec(text.slice(offset - 1))?.[0] ?? '$' + '{…}';
  return {
    start,
    message: `YAML reads the { of ${variable} as the start of a map: inside { … } or [ … ] a value with \${VAR} must be quoted — write ${JSON.stringify(value)} (variables are still replaced in double quotes), or put the option on its own line`,
  };
}
