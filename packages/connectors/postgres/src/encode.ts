/**
 * Record values as PostgreSQL text: the one text form a column value takes, written into COPY's
 * text format or passed as a statement parameter, and the quoting of identifiers.
 */

/** How a column takes a structured value (an object or array). */
export type ColumnShape = 'array' | 'other';

/**
 * The text PostgreSQL parses a field's value from, for a column of `shape`; null for SQL NULL
 * (`undefined` and `null`). Strings as they are, numbers and bigints in decimal (`NaN`,
 * `Infinity` as PostgreSQL spells them), booleans as `true`/`false`, dates as ISO 8601; an array
 * for an array column as an array literal (`{"a","b"}`), any other object or array as JSON (for
 * `json`/`jsonb` columns). The server decides whether the text fits the column's type; when it
 * does not, it refuses the record.
 */
export function columnText(value: unknown, shape: ColumnShape): string | null {
  if (value === undefined || value === null) return null;
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value)
        ? String(value)
        : Number.isNaN(value)
          ? 'NaN'
          : value > 0
            ? 'Infinity'
            : '-Infinity';
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      break;
  }
  if (value instanceof Date) return value.toISOString();
  if (shape === 'array' && Array.isArray(value)) return arrayLiteral(value);
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** A PostgreSQL array literal: `{"a",NULL,{"1","2"}}`; every element quoted, nested arrays nested. */
export function arrayLiteral(values: readonly unknown[]): string {
  const parts: string[] = [];
  for (const v of values) {
    if (Array.isArray(v)) parts.push(arrayLiteral(v));
    else {
      const text = columnText(v, 'other');
      parts.push(text === null ? 'NULL' : `"${text.replace(/[\\"]/g, '\\$&')}"`);
    }
  }
  return `{${parts.join(',')}}`;
}

/** `text` escaped for one field of COPY's text format (tab-separated, `\N` for NULL). */
export function copyField(text: string | null): string {
  if (text === null) return '\\N';
  // Only backslash, newline, carriage return and tab are special in the text format.
  return /[\\\n\r\t]/.test(text) ? text.replace(/[\\\n\r\t]/g, copyEscape) : text;
}

function copyEscape(c: string): string {
  return c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t';
}

/** An identifier quoted for SQL: `"name"`, inner quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A table option (`name` or `schema.name`), each part quoted as given. */
export function quoteTable(table: string): string {
  const dot = table.indexOf('.');
  return dot < 0
    ? quoteIdent(table)
    : `${quoteIdent(table.slice(0, dot))}.${quoteIdent(table.slice(dot + 1))}`;
}
