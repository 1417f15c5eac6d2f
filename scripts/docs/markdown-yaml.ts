/**
 * The YAML code blocks of Markdown files, with what each one claims to be.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * What a block is, from an HTML comment on the line(s) just before its fence:
 * `<!-- yaml: fragment -->` — part of a file, checked only to be YAML;
 * `<!-- yaml: counter-example -->` — shows a mistake, checked to be refused.
 * An unmarked block is a whole pipeline, or (when it has a `type` key) one component's options.
 */
export type BlockMarker = 'fragment' | 'counter-example' | undefined;

/** One ```yaml block. */
export interface YamlBlock {
  /** Path of the Markdown file, relative to the root given to `markdownFiles`. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly text: string;
  readonly marker: BlockMarker;
  /** The component a `## \`type\` (kind)` heading above the block documents, if any. */
  readonly component?: { readonly type: string; readonly kind: 'source' | 'step' | 'sink' | 'lookup' };
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/;
const MARKER = /^\s*<!--\s*yaml:\s*([\w-]+)\s*-->\s*$/;
const COMPONENT_HEADING = /^#{1,6}\s+`(\w+)`\s+\((source|step|sink|lookup)\)/;
const HEADING = /^#{1,6}\s/;

/**
 * The YAML blocks (info string `yaml` or `yml`) of one Markdown text, fences indented in lists
 * included (the indentation is removed). Throws on an unknown marker or an unclosed fence.
 */
export function yamlBlocks(markdown: string, file: string): YamlBlock[] {
  const lines = markdown.split('\n');
  const out: YamlBlock[] = [];
  let component: YamlBlock['component'];
  let marker: BlockMarker;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const m = MARKER.exec(line);
    if (m) {
      if (m[1] !== 'fragment' && m[1] !== 'counter-example') {
        throw new Error(`${file}:${i + 1}: unknown marker 'yaml: ${m[1]}'; use fragment or counter-example`);
      }
      marker = m[1];
      continue;
    }
    if (HEADING.test(line)) {
      const c = COMPONENT_HEADING.exec(line);
      component = c ? { type: c[1], kind: c[2] as 'source' | 'step' | 'sink' | 'lookup' } : undefined;
    }
    const fence = FENCE.exec(line);
    if (!fence) {
      if (line.trim() !== '') marker = undefined;
      continue;
    }
    const [, indent, ticks, info] = fence;
    const close = lines.findIndex(
      (l, j) =>
        j > i &&
        l.startsWith(indent) &&
        l.trim().startsWith(ticks) &&
        l.trim() === ticks[0].repeat(l.trim().length),
    );
    if (close < 0) throw new Error(`${file}:${i + 1}: code block is never closed`);
    if (info === 'yaml' || info === 'yml') {
      const text = lines
        .slice(i + 1, close)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
        .join('\n');
      out.push({ file, line: i + 1, text: `${text}\n`, marker, ...(component ? { component } : {}) });
    }
    marker = undefined;
    i = close;
  }
  return out;
}

/** README.md and every Markdown file under docs/, relative to `root`, sorted. */
export function markdownFiles(root: string): string[] {
  const out = ['README.md'];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const rel = join(dir, name);
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (name.endsWith('.md')) out.push(relative(root, join(root, rel)));
    }
  };
  walk('docs');
  return out;
}

/** Every YAML block of `markdownFiles(root)`. */
export function allYamlBlocks(root: string): YamlBlock[] {
  return markdownFiles(root).flatMap((file) => yamlBlocks(readFileSync(join(root, file), 'utf8'), file));
}
