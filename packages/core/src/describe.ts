/**
 * Reference text for a component, rendered from its spec: used by `sluice describe` and the
 * generated pages under docs/reference.
 */

import { withDefaultsOptional } from './plan/json-schema-defaults.ts';
import { type ComponentSpec, DELIVERY_MEANINGS, type DeliveryGuarantee } from './spec.ts';

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

/** One option row: path, type, required, default, description. */
type Row = [string, string, string, string, string];

/** The forms of a union of objects told apart by one property holding a constant (`type`). */
interface Forms {
  readonly tag: string;
  readonly forms: readonly { readonly name: string; readonly node: SchemaNode }[];
}

function formsOf(node: SchemaNode): Forms | undefined {
  const alts = node.anyOf ?? node.oneOf;
  if (!alts || alts.length < 2 || !alts.every((a) => a.properties !== undefined)) return undefined;
  const tag = Object.keys(alts[0].properties ?? {}).find((key) =>
    alts.every((a) => typeof a.properties?.[key]?.const === 'string'),
  );
  if (tag === undefined) return undefined;
  return { tag, forms: alts.map((a) => ({ name: String(a.properties?.[tag]?.const), node: a })) };
}

function typeName(node: SchemaNode): string {
  if (formsOf(node)) return 'object';
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

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function row(path: string, child: SchemaNode, required: boolean, prefix = ''): Row {
  const dflt = child.default === undefined ? '' : `\`${JSON.stringify(child.default)}\``;
  const secret = child.secret ? ' *(secret: redacted in logs)*' : '';
  const desc = `${prefix}${cell(child.description ?? '')}${secret}`;
  return [`\`${path}\``, typeName(child), required ? 'yes' : '', dflt, desc];
}

/**
 * Option rows of an object schema. Nested objects are flattened as `a.b`, objects in arrays as
 * `a[].b`; a union of objects told apart by `type` gets a row for `type` and one per option of
 * its forms, each saying which forms take it.
 */
function rows(node: SchemaNode, prefix: string, out: Row[]): void {
  const required = new Set(node.required ?? []);
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    out.push(row(path, child, required.has(name)));
    nested(child, path, out);
  }
}

function nested(child: SchemaNode, path: string, out: Row[]): void {
  const forms = formsOf(child);
  if (forms) formRows(forms, path, out);
  else if (child.properties) rows(child, path, out);
  else if (child.type === 'array' && child.items?.properties) rows(child.items, `${path}[]`, out);
}

function formRows(union: Forms, path: string, out: Row[]): void {
  const tagNode: SchemaNode = {
    ...union.forms[0].node.properties?.[union.tag],
    const: undefined,
    anyOf: union.forms.map((f) => ({ const: f.name })),
  };
  tagNode.description ??= `Which form of \`${path}\`; the rows below name the forms that take each option.`;
  out.push(row(`${path}.${union.tag}`, tagNode, true));
  const merged = new Map<string, { row: Row; forms: string[]; child: SchemaNode }>();
  for (const form of union.forms) {
    const required = new Set(form.node.required ?? []);
    for (const [name, child] of Object.entries(form.node.properties ?? {})) {
      if (name === union.tag) continue;
      const r = row(`${path}.${name}`, child, required.has(name));
      const key = JSON.stringify(r);
      const seen = merged.get(key);
      if (seen) seen.forms.push(form.name);
      else merged.set(key, { row: r, forms: [form.name], child });
    }
  }
  for (const { row: r, forms, child } of merged.values()) {
    const which = forms.map((f) => `\`${f}\``).join(', ');
    out.push([r[0], r[1], r[2], r[3], `${which}: ${r[4]}`]);
    nested(child, r[0].slice(1, -1), out);
  }
}

/**
 * The Markdown table of the options of an object schema (a component's config, `settings`,
 * `event_time`): option path, type, whether it is required, default, description; '' when it
 * has no options. An option the loader fills with its default is not required.
 */
export function optionsTable(schema: object): string {
  const table: Row[] = [];
  rows(withDefaultsOptional(schema) as SchemaNode, '', table);
  if (table.length === 0) return '';
  const lines = ['| option | type | required | default | description |', '|---|---|---|---|---|'];
  for (const r of table) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

/** The Markdown reference of one component. */
export function describeComponent(spec: ComponentSpec): string {
  const lines: string[] = [`## \`${spec.type}\` (${spec.kind})`, '', spec.summary, ''];
  if (spec.description) lines.push(spec.description, '');
  if (spec.kind === 'source' || spec.kind === 'sink')
    lines.push(describeDelivery(spec.kind, spec.delivery), '');
  if (spec.kind === 'sink') {
    lines.push(
      spec.changelog === undefined
        ? 'Changelog: inserts only; a pipeline that gives it updates (e.g. an `aggregate` without a window) is refused.'
        : spec.changelog.hint === ''
          ? 'Changelog: takes inserts, updates and deletes.'
          : `Changelog: inserts only unless configured for updates: ${spec.changelog.hint}.`,
      '',
    );
  }
  if (spec.kind === 'source' && spec.metadata !== undefined) {
    lines.push("Metadata a SQL table reads as `name TYPE METADATA [FROM 'key'] [VIRTUAL]` columns:", '');
    for (const [key, m] of Object.entries(spec.metadata))
      lines.push(`- \`${key}\`: ${m.description} (\`${m.expression}\`).`);
    lines.push('');
  }
  if (spec.kind === 'sink' && spec.changelog?.primaryKey !== undefined) {
    const options = Object.entries(spec.changelog.primaryKey(['k']))
      .map(([option, value]) => `\`${option}: ${JSON.stringify(value)}\``)
      .join(', ');
    lines.push(
      `SQL: a table written with \`PRIMARY KEY (k) NOT ENFORCED\` writes upserts under that key (it sets ${options}).`,
      '',
    );
  }
  if (spec.kind === 'step' && spec.sideOutputs !== undefined && spec.sideOutputs.length > 0) {
    lines.push('Side outputs (a step or sink reads one as `input: <step id>.<port>`):', '');
    for (const o of spec.sideOutputs) lines.push(`- \`${o.name}\`: ${o.description}.`);
    lines.push('');
  }
  const table = optionsTable(spec.config);
  lines.push(table === '' ? 'No options.' : table, '');
  if (spec.example) lines.push('Example:', '', '```yaml', spec.example.trimEnd(), '```', '');
  return lines.join('\n');
}

/** The reference line of a source's or sink's delivery guarantee, with what it means. */
export function describeDelivery(kind: 'source' | 'sink', guarantee: DeliveryGuarantee): string {
  const meanings = DELIVERY_MEANINGS[kind];
  if (typeof guarantee === 'string') return `Delivery: ${guarantee} — ${meanings[guarantee]}.`;
  const values = Object.entries(guarantee.values);
  const lines = [`Delivery, by \`${guarantee.option}\`:`, ''];
  for (const [value, delivery] of values) lines.push(`- \`${value}\`: ${delivery} — ${meanings[delivery]}.`);
  return lines.join('\n');
}
