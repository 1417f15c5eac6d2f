/**
 * What building a plan from a parsed file needs: the registry, the problems found so far, and
 * the positions of values and keys by path.
 */

import type { ErrorCode } from '../errors.ts';
import type { ConfigIssue } from '../plan/config.ts';
import { concatPath, parentPath } from '../plan/config-path.ts';
import type { Registry } from '../registry.ts';
import type { IssueList, Position } from './issues.ts';
import type { YamlTree } from './read-yaml.ts';

export interface BuildContext {
  readonly registry: Registry;
  readonly issues: IssueList;
  readonly tree: YamlTree;
}

/** Position of the value at `path`, or of its closest ancestor that has one. */
export function at(ctx: BuildContext, path: string): Position {
  for (let p: string | undefined = path; p !== undefined; p = parentPath(p)) {
    const position = ctx.tree.values.get(p);
    if (position !== undefined) return position;
  }
  return { line: 1, column: 1 };
}

/** Position of the key of `path` (e.g. an unknown option), else of its value. */
export function atKey(ctx: BuildContext, path: string): Position {
  return ctx.tree.keys.get(path) ?? at(ctx, path);
}

/** Whether the value at `path` or one of its ancestors could not be read (already reported). */
export function isBroken(ctx: BuildContext, path: string): boolean {
  for (let p: string | undefined = path; p !== undefined; p = parentPath(p)) {
    if (ctx.tree.broken.has(p)) return true;
  }
  return false;
}

/**
 * The values under `prefix` that came from a lone `${VAR}` (see `YamlTree.variables`), by path
 * relative to it, for `validateConfig`.
 */
export function variablesUnder(ctx: BuildContext, prefix: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [path, text] of ctx.tree.variables) {
    if (prefix === '') out.set(path, text);
    else if (path.startsWith(`${prefix}.`)) out.set(path.slice(prefix.length + 1), text);
    else if (path.startsWith(`${prefix}[`)) out.set(path.slice(prefix.length), text);
  }
  return out;
}

/** Adds a problem located at the value at `path`, unless that value could not be read at all. */
export function report(
  ctx: BuildContext,
  code: ErrorCode,
  path: string,
  message: string,
  step?: string,
): void {
  if (!isBroken(ctx, path)) ctx.issues.add(code, path, message, at(ctx, path), step);
}

/** Adds a problem located at the key of `path`, unless its value could not be read at all. */
export function reportKey(
  ctx: BuildContext,
  code: ErrorCode,
  path: string,
  message: string,
  step?: string,
): void {
  if (!isBroken(ctx, path)) ctx.issues.add(code, path, message, atKey(ctx, path), step);
}

/** Adds config issues found inside the value at `prefix` (paths are relative to it). */
export function reportConfigIssues(
  ctx: BuildContext,
  prefix: string,
  issues: readonly ConfigIssue[],
  step?: string,
): void {
  for (const issue of issues) {
    const path = concatPath(prefix, issue.path);
    if (issue.onKey) reportKey(ctx, 'CONFIG_INVALID', path, issue.message, step);
    else report(ctx, 'CONFIG_INVALID', path, issue.message, step);
  }
}
