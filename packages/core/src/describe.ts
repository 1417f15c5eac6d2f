/**
 * Reference text for a component, rendered from its spec: used by `sluice describe` and the
 * generated pages under docs/reference.
 */

import type { ComponentSpec } from './spec.ts';

interface SchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  properties?: { [k: string]: SchemaNode };
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: boolean | SchemaNode;
  patternProperties?: { [k: string]: SchemaNode };
  secret?: boolean;
}

function typeName(node: SchemaNode): string {
  const alts = node.anyOf ?? node.oneOf;
  if (alts) {
    if (alts.every((a) => a.const !== undefined))
      return alts.map((a) => JSON.stringify(a.const)).join(' \\| ');
    return alts.map(typeName).join(' \\| ');
  }
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (node.enum) return node.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (node.type === 'array') return `${node.items ? typeName(node.items) : 'any'}[]`;
  if (node.type === 'object' && !node.properties) {
    const values = node.patternProperties ? Object.values(node.patternProperties)[0] : undefined;
    return values ? `map of ${typeName(values)}` : 'object';
  }
  return Array.isArray(node.type) ? node.type.join(' \\| ') : (node.type ?? 'any');
}

/** Option rows of an object schema, nested objects flattened as `a.b`. */
function rows(node: SchemaNode, prefix: string, out: string[][]): void {
  const required = new Set(node.required ?? []);
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    const dflt = child.default === undefined ? '' : `\`${JSON.stringify(child.default)}\``;
    const req = required.has(name) && child.default === undefined ? 'yes' : '';
    const desc = `${(child.description ?? '').replaceAll('|', '\\|').replaceAll('\n', ' ')}${child.secret ? ' *(secret: redacted in logs)*' : ''}`;
    out.push([`\`${path}\``, typeName(child), req, dflt, desc]);
    if (child.type === 'object' && child.properties) rows(child, path, out);
  }
}

/** The Markdown reference of one component. */
export function describeComponent(spec: ComponentSpec): string {
  const lines: string[] = [`## \`${spec.type}\` (${spec.kind})`, '', spec.summary, ''];
  if (spec.description) lines.push(spec.description, '');
  if (spec.kind === 'sink') lines.push(`Delivery: ${spec.delivery}.`, '');
  const table: string[][] = [];
  rows(spec.config as SchemaNode, '', table);
  if (table.length > 0) {
    lines.push('| option | type | required | default | description |', '|---|---|---|---|---|');
    for (const r of table) lines.push(`| ${r.join(' | ')} |`);
    lines.push('');
  } else {
    lines.push('No options.', '');
  }
  if (spec.example) lines.push('Example:', '', '```yaml', spec.example.trimEnd(), '```', '');
  return lines.join('\n');
}
