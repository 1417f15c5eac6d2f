/**
 * The examples of the expression reference page (`describeExpressions`). Only the expressions
 * and the notes are written here; how they group, what they read and what they give are computed
 * when the page is generated, and a test checks the notes' claims against the parser.
 */

/** One example expression and what it shows. */
export interface ExpressionExample {
  readonly text: string;
  readonly note: string;
}

/** A group of examples; `evaluate` adds the result on the sample record. */
export interface ExpressionSection {
  readonly title: string;
  readonly intro: string;
  readonly evaluate: boolean;
  readonly examples: readonly ExpressionExample[];
}

/** The record the examples are evaluated on. */
export const sampleRecord = {
  region: 'eu',
  Region: 'EU',
  'order id': 'A-17',
  status: 'paid',
  amount: 12.5,
  qty: 3,
  note: null,
  ts: '2026-03-01T10:15:00Z',
  customer: { name: 'Ada', address: { city: 'Lyon', 'zip code': '69001' } },
  items: [
    { sku: 'X1', price: 10 },
    { sku: 'Y2', price: 2.5 },
  ],
  tags: ['new', 'gift'],
  attributes: { color: 'red' },
};

export const expressionSections: readonly ExpressionSection[] = [
  {
    title: 'Names and literals',
    intro:
      'A bare word is a field of the record; double quotes make any text a field name; single quotes make a string. Field names are case-sensitive; keywords and function names are not.',
    evaluate: true,
    examples: [
      { text: 'region', note: 'A field.' },
      { text: 'Region', note: 'Another field: names are case-sensitive.' },
      { text: '"order id"', note: 'Double quotes name a field whose name is not a plain word.' },
      { text: "'eu'", note: 'Single quotes make a string.' },
      { text: "region = 'eu'", note: 'Compares the field `region` with the string `eu`.' },
      {
        text: 'region = "eu"',
        note: 'Compares with the *field* `eu`: in SQL double quotes quote names, not strings. The sample record has no field `eu`, so the record would go to dead letters.',
      },
      { text: "'it''s'", note: 'A single quote inside a string is doubled.' },
      { text: '2.5e3 + .5', note: 'Numbers: integers, decimals, exponents.' },
      { text: 'TRUE AND NOT false', note: 'Booleans; keywords in any case.' },
      { text: 'note IS NULL', note: 'NULL is a value a field can hold.' },
      {
        text: 'phone IS NULL',
        note: 'A field the record lacks reads as NULL directly under `IS [NOT] NULL`, `coalesce`, `ifnull` and `nullif`…',
      },
      { text: "phone = '555'", note: '…and is an error anywhere else.' },
      { text: "INTERVAL '5' MINUTE", note: 'An interval is a number of milliseconds.' },
    ],
  },
  {
    title: 'Field paths and indexes',
    intro:
      'A dot reads a field of a nested object; brackets read an array element (0-based) or an object entry by name, and may hold any expression.',
    evaluate: true,
    examples: [
      { text: 'customer.name', note: 'A nested field.' },
      { text: 'customer.address."zip code"', note: 'Each part of a path may be quoted.' },
      { text: 'items[0].sku', note: 'Arrays count from 0.' },
      { text: 'items[1].price * qty', note: 'Paths bind tighter than any operator.' },
      { text: 'items[5]', note: 'An index past the end gives NULL.' },
      { text: 'tags[qty - 2]', note: 'An index may be computed.' },
      { text: "attributes['color']", note: 'Brackets with a string read an object entry.' },
      { text: 'customer.phone', note: 'A nested field the object lacks is an error, like a top-level one.' },
    ],
  },
  {
    title: 'Operators and other forms',
    intro:
      'Arithmetic needs numbers and comparison two values of one kind: nothing is converted implicitly (write `CAST`). NULL makes most operators give NULL; `AND` and `OR` are three-valued.',
    evaluate: true,
    examples: [
      { text: 'amount * qty + 1', note: 'Arithmetic: `+ - * / %`.' },
      { text: "region || '-' || status", note: '`||` concatenates strings.' },
      { text: 'amount != 12.5', note: '`!=` is the same as `<>`.' },
      { text: 'amount BETWEEN 10 AND 20', note: 'Both bounds included.' },
      { text: "status IN ('paid', 'shipped')", note: 'One of a list.' },
      { text: "customer.name LIKE 'A%'", note: '`%` any text, `_` one character; case-sensitive.' },
      { text: "region ILIKE 'EU'", note: '`ILIKE` ignores case.' },
      { text: "CASE WHEN amount > 100 THEN 'big' ELSE 'small' END", note: 'Searched CASE.' },
      { text: "CASE status WHEN 'paid' THEN 1 ELSE 0 END", note: 'Simple CASE.' },
      { text: 'CAST(qty AS DOUBLE) / 2', note: 'CAST converts explicitly.' },
      { text: 'qty::VARCHAR', note: '`::` is a short CAST.' },
      { text: "'5' * 2", note: 'No implicit conversion: an error when the pipeline starts.' },
      { text: 'coalesce(phone, 0)', note: 'The first argument that is not NULL (or missing).' },
      { text: 'extract(HOUR FROM to_timestamp(ts))', note: 'SQL call forms with keywords are accepted.' },
      { text: 'substring(region FROM 1 FOR 1)', note: '' },
      { text: "position('u' IN region)", note: '' },
    ],
  },
  {
    title: 'Aggregate calls',
    intro:
      'Only in the `fields` of an `aggregate` step, where a field may also combine aggregate calls with operators and functions.',
    evaluate: false,
    examples: [
      { text: 'count(*)', note: 'Counts records.' },
      { text: 'count(DISTINCT customer.name)', note: '' },
      { text: 'round(sum(amount * qty) / count(*), 2)', note: 'An expression over aggregate calls.' },
    ],
  },
];

/** One precedence level, loosest first, with an example that mixes it with the next level. */
export interface PrecedenceLevel {
  /** Markdown of the level's operators. */
  readonly operators: string;
  readonly example: string;
}

export const precedenceLevels: readonly PrecedenceLevel[] = [
  { operators: '`OR`', example: 'a OR b AND c' },
  { operators: '`AND`', example: 'NOT a AND b' },
  { operators: '`NOT`', example: 'NOT a IS NULL' },
  { operators: '`IS [NOT] NULL`, `IS [NOT] TRUE`, `IS [NOT] FALSE`', example: 'a = b IS TRUE' },
  { operators: '`=` `<>` `!=` `<` `<=` `>` `>=`', example: 'a = b LIKE c' },
  {
    operators: '`[NOT] BETWEEN … AND …`, `[NOT] IN (…)`, `[NOT] LIKE`, `[NOT] ILIKE`',
    example: 'a LIKE b || c',
  },
  { operators: '`\\|\\|`', example: 'a || b + c' },
  { operators: '`+` `-`', example: 'a + b * c' },
  { operators: '`*` `/` `%`', example: '-a * b' },
  { operators: 'unary `-` `+`', example: '-a::DOUBLE' },
  { operators: '`::type`, `[index]`, `.name`', example: 'a.b[0]::BIGINT' },
];

/** Texts the parser refuses, each with a message saying what to write instead. */
export const mistakes: readonly string[] = [
  'amount == 10',
  'paid && shipped',
  '!paid',
  '`order id` = 1',
  'amount > 0;',
  "region = 'eu",
  'end = 1',
  'CAST(amount AS VARCHAR(10))',
  "INTERVAL '1' MONTH",
  'amount 10',
  '2x',
];

/** A line (or block) of a pipeline file holding an expression, and what YAML makes of it. */
export interface YamlExample {
  readonly yaml: string;
  /**
   * What YAML makes of it: `expression` — every value is text that parses as an expression;
   * `broken` — it parses as YAML, but some value is not such text; `yaml-error` — it does not parse.
   */
  readonly outcome: 'expression' | 'broken' | 'yaml-error';
  readonly note: string;
}

export const yamlExamples: readonly YamlExample[] = [
  {
    yaml: "where: region = 'eu'",
    outcome: 'expression',
    note: 'A plain YAML value: the expression as written.',
  },
  {
    yaml: 'where: region = "eu"',
    outcome: 'expression',
    note: 'Also as written — so it compares with the field `eu` (see above). Write single quotes.',
  },
  {
    yaml: `where: "region = 'eu'"`,
    outcome: 'expression',
    note: 'Double quotes around the whole value are YAML’s; the expression is inside.',
  },
  {
    yaml: "where: 'eu' = region",
    outcome: 'yaml-error',
    note: 'A value that starts with a quote is a quoted YAML string, and text after it is an error.',
  },
  { yaml: `where: "'eu' = region"`, outcome: 'expression', note: 'Quote the whole value instead.' },
  {
    yaml: 'fields: { total: round(sum(t), 1) }',
    outcome: 'broken',
    note: 'Inside `{ }` a comma ends the value: the step gets `round(sum(t)` and a field named `1)`.',
  },
  {
    yaml: 'fields: { total: "round(sum(t), 1)" }',
    outcome: 'expression',
    note: 'Quote values with commas in a flow map, or use one line per field.',
  },
  {
    yaml: "where: note = 'a: b'",
    outcome: 'yaml-error',
    note: 'A colon and a space in a plain value are an error.',
  },
  {
    yaml: 'where: amount > 0 # big ones',
    outcome: 'expression',
    note: 'A space and `#` start a YAML comment.',
  },
  {
    yaml: "where: >-\n  status IN ('paid', 'shipped')\n  AND amount > 10\n",
    outcome: 'expression',
    note: 'A folded block (`>-`) needs no quoting at all: YAML joins its lines with spaces.',
  },
];
