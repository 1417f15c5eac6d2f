/**
 * Comparing what Sluice and Flink wrote for one Nexmark query (bench/nexmark-flink.ts).
 *
 * Both write JSON lines, but not in the same form: Flink writes TIMESTAMP(3) as
 * `"2026-01-01 00:00:00.123"` (its JSON format's SQL standard) where Sluice writes epoch
 * milliseconds; Flink drops nothing where Sluice may leave out a null field; and an updating
 * result is a Debezium changelog in both, but Flink writes an update as a delete (`op: "d"`,
 * the old row) and an insert (`op: "c"`, the new one) where Sluice writes one `u` line. So each
 * output is folded into the table it leaves (a multiset of rows: an envelope's `before` taken
 * out, its `after` put in; a plain line put in), each row written as a canonical text (fields
 * sorted by name, nulls dropped, timestamps as epoch ms), and the sorted texts compared.
 *
 * Where the engines' types differ the exact comparison can fail on numbers alone: 0.908 * price
 * is an exact DECIMAL in Flink and a double in Sluice (AVG of a BIGINT is a BIGINT, the mean
 * truncated, in both since Sluice's planner tracks integer columns). The tolerant comparison
 * therefore also rounds every number to 3 decimals and truncates it to an integer; the benchmark
 * reports which of the two held.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Row = { [key: string]: Json };

/** A timestamp as Flink's JSON format writes it (SQL standard or ISO-8601), no zone: UTC. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/;

function isRow(value: Json): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEnvelope(row: Row): boolean {
  return typeof row.op === 'string' && ('before' in row || 'after' in row);
}

/** A field value in canonical form: timestamps as epoch ms; `tolerant` rounds numbers as above. */
function canonicalValue(value: Json, tolerant: boolean): Json {
  if (typeof value === 'string' && TIMESTAMP.test(value)) {
    const ms = Date.parse(`${value.replace(' ', 'T')}Z`);
    if (!Number.isNaN(ms)) return tolerant ? Math.trunc(ms) : ms;
  }
  if (typeof value === 'number' && tolerant) return Math.trunc(Math.round(value * 1000) / 1000);
  if (Array.isArray(value)) return value.map((v) => canonicalValue(v, tolerant));
  if (isRow(value)) return canonicalRow(value, tolerant);
  return value;
}

function canonicalRow(row: Row, tolerant: boolean): Row {
  const out: Row = {};
  for (const key of Object.keys(row).sort()) {
    const value = row[key];
    if (value !== null && value !== undefined) out[key] = canonicalValue(value, tolerant);
  }
  return out;
}

/**
 * The rows an output leaves, as sorted canonical texts. `lines` is the JSON-lines text of every
 * file of the output (in the order written, per file). A changelog that takes out a row it never
 * put in throws: the output is not a changelog of a table.
 */
export function finalRows(texts: readonly string[], tolerant = false): string[] {
  const rows = new Map<string, number>();
  const add = (row: Json, delta: number, where: string) => {
    if (!isRow(row)) throw new Error(`${where}: not a JSON object`);
    const key = JSON.stringify(canonicalRow(row, tolerant));
    const count = (rows.get(key) ?? 0) + delta;
    if (count < 0) throw new Error(`${where}: a change takes out ${key}, which is not in the table`);
    if (count === 0) rows.delete(key);
    else rows.set(key, count);
  };
  texts.forEach((text, file) => {
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `file ${file + 1}, line ${i + 1}`;
      const value = JSON.parse(line) as Json;
      if (!isRow(value)) throw new Error(`${where}: not a JSON object`);
      if (isEnvelope(value)) {
        if (value.before !== null && value.before !== undefined) add(value.before, -1, where);
        if (value.after !== null && value.after !== undefined) add(value.after, 1, where);
      } else add(value, 1, where);
    });
  });
  const out: string[] = [];
  for (const [key, count] of rows) for (let i = 0; i < count; i++) out.push(key);
  return out.sort();
}

/** How two outputs compare: `equal`, equal only `tolerant`ly (see above), or `different`. */
export type Verdict =
  | { verdict: 'equal'; rows: number }
  | { verdict: 'tolerant'; rows: number }
  | { verdict: 'different'; rows: [number, number]; onlyLeft: string[]; onlyRight: string[] };

/** Rows in `a` and not in `b` (both sorted), as a multiset difference; at most `limit`. */
function missing(a: readonly string[], b: readonly string[], limit: number): string[] {
  const out: string[] = [];
  let j = 0;
  for (const row of a) {
    while (j < b.length && b[j] < row) j++;
    if (j < b.length && b[j] === row) j++;
    else if (out.push(row) >= limit) break;
  }
  return out;
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((row, i) => row === b[i]);
}

/** Compares two outputs, each given as the texts of its files. */
export function compareOutputs(left: readonly string[], right: readonly string[]): Verdict {
  const l = finalRows(left);
  const r = finalRows(right);
  if (same(l, r)) return { verdict: 'equal', rows: l.length };
  const lt = finalRows(left, true);
  const rt = finalRows(right, true);
  if (same(lt, rt)) return { verdict: 'tolerant', rows: lt.length };
  return {
    verdict: 'different',
    rows: [l.length, r.length],
    onlyLeft: missing(lt, rt, 3),
    onlyRight: missing(rt, lt, 3),
  };
}
