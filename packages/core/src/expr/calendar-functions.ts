/**
 * Flink SQL's calendar functions: `timestampadd`, `timestampdiff` and `date_format`, on epoch
 * milliseconds in UTC. Months, quarters and years move by the calendar (a day past the end of
 * the month it lands in is clamped to that month's last day, as Flink does); the other units are
 * fixed lengths.
 */

import { civil, civilFromDays, daysFromCivil, daysInMonth, MS_PER_DAY } from './civil.ts';
import { evalError, failAt } from './failure.ts';
import { type FunctionSpec, literalString } from './function-spec.ts';
import { closest } from './suggest.ts';
import type { Expr } from './types.ts';

const FIXED: { readonly [unit: string]: number } = {
  millisecond: 1,
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: MS_PER_DAY,
  week: 7 * MS_PER_DAY,
};
const MONTHS: { readonly [unit: string]: number } = { month: 1, quarter: 3, year: 12 };
const UNITS = [...Object.keys(FIXED), ...Object.keys(MONTHS)];

function unknownUnit(fn: string, unit: string): never {
  return evalError(`${fn}(): unknown unit '${unit}'; use one of ${UNITS.join(', ')}`);
}

function checkUnit(fn: string) {
  return (args: readonly Expr[]) => {
    const unit = literalString(args[0]);
    if (unit !== undefined && !UNITS.includes(unit.toLowerCase())) {
      const near = closest(unit.toLowerCase(), UNITS);
      failAt(
        'PLAN_TYPE_ERROR',
        args[0].start,
        `${fn}(): unknown unit '${unit}'; ${near === undefined ? `use one of ${UNITS.join(', ')}` : `did you mean '${near}'?`}`,
      );
    }
  };
}

/** `ts` moved by `months` calendar months, its day clamped to the month it lands in. */
function addMonths(ts: number, months: number): number {
  const days = Math.floor(ts / MS_PER_DAY);
  const time = ts - days * MS_PER_DAY;
  civilFromDays(days);
  const index = civil.year * 12 + (civil.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = index - year * 12 + 1;
  const day = Math.min(civil.day, daysInMonth(year, month));
  return daysFromCivil(year, month, day) * MS_PER_DAY + time;
}

function timestampAdd(unit: string, n: number, ts: number): number {
  if (!Number.isInteger(n)) return evalError(`timestampadd(): the count ${n} is not a whole number`);
  const fixed = FIXED[unit];
  if (fixed !== undefined) return ts + n * fixed;
  const months = MONTHS[unit];
  if (months !== undefined) return addMonths(ts, n * months);
  return unknownUnit('timestampadd', unit);
}

/** Whole calendar months from `a` to `b`, truncated toward zero. */
function monthsBetween(a: number, b: number): number {
  const da = Math.floor(a / MS_PER_DAY);
  civilFromDays(da);
  const ya = civil.year;
  const ma = civil.month;
  const db = Math.floor(b / MS_PER_DAY);
  civilFromDays(db);
  let months = (civil.year - ya) * 12 + (civil.month - ma);
  // Not a whole month yet when b's position in its month is before a's.
  if (months > 0 && addMonths(a, months) > b) months--;
  else if (months < 0 && addMonths(a, months) < b) months++;
  return months;
}

function timestampDiff(unit: string, a: number, b: number): number {
  const fixed = FIXED[unit];
  if (fixed !== undefined) return Math.trunc((b - a) / fixed);
  const months = MONTHS[unit];
  if (months !== undefined) return Math.trunc(monthsBetween(a, b) / months);
  return unknownUnit('timestampdiff', unit);
}

/** The letters of Java's date patterns that `date_format` writes, by run. */
const PATTERN = /'([^']*)'|y+|M+|d+|H+|h+|m+|s+|S+|a|[A-Za-z]/g;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Checks a constant date pattern at argument `at`. */
export function checkPattern(args: readonly Expr[], at = 1): void {
  const pattern = literalString(args[at]);
  if (pattern === undefined) return;
  for (const m of pattern.matchAll(PATTERN)) {
    if (m[1] === undefined && !/^(y+|M+|d+|H+|h+|m+|s+|S+|a)$/.test(m[0]))
      failAt(
        'PLAN_TYPE_ERROR',
        args[at].start + 1 + (m.index ?? 0),
        `date_format(): pattern letter '${m[0]}' is not supported; use y, M, d, H, h, m, s, S, a and text in single quotes`,
      );
  }
}

/** `ts` as text in UTC by a Java date pattern (see `date_format`). */
export function dateFormat(ts: number, pattern = 'yyyy-MM-dd HH:mm:ss'): string {
  const days = Math.floor(ts / MS_PER_DAY);
  const time = ts - days * MS_PER_DAY;
  civilFromDays(days);
  const { year, month, day } = civil;
  const hour = Math.floor(time / 3_600_000);
  const minute = Math.floor((time % 3_600_000) / 60_000);
  const second = Math.floor((time % 60_000) / 1000);
  const milli = time % 1000;
  return pattern.replace(PATTERN, (run: string, quoted: string | undefined) => {
    if (quoted !== undefined) return quoted === '' ? "'" : quoted;
    switch (run[0]) {
      case 'y':
        return run.length === 2 ? pad(((year % 100) + 100) % 100, 2) : pad(year, run.length);
      case 'M':
        return pad(month, run.length);
      case 'd':
        return pad(day, run.length);
      case 'H':
        return pad(hour, run.length);
      case 'h':
        return pad(hour % 12 === 0 ? 12 : hour % 12, run.length);
      case 'm':
        return pad(minute, run.length);
      case 's':
        return pad(second, run.length);
      case 'S':
        return pad(milli, 3).slice(0, run.length).padEnd(run.length, '0');
      case 'a':
        return hour < 12 ? 'AM' : 'PM';
      default:
        return evalError(`date_format(): pattern letter '${run}' is not supported`);
    }
  });
}

/** The calendar functions. */
export const calendarFunctions: readonly FunctionSpec[] = [
  {
    name: 'timestampadd',
    category: 'time',
    signature: 'timestampadd(unit, n, ts)',
    summary: `\`ts\` moved by \`n\` units (${UNITS.join(', ')}; written bare, as in Flink: TIMESTAMPADD(MONTH, 1, ts)); months, quarters and years by the calendar, a day past the month's end clamped to its last day.`,
    params: ['unit', 'integer', 'timestamp'],
    required: 3,
    returns: 'timestamp',
    impl: timestampAdd,
    check: checkUnit('timestampadd'),
  },
  {
    name: 'timestampdiff',
    category: 'time',
    signature: 'timestampdiff(unit, a, b)',
    summary: `Whole units (${UNITS.join(', ')}) from \`a\` to \`b\`, truncated toward zero (negative when \`b\` is earlier); months, quarters and years by the calendar.`,
    params: ['unit', 'timestamp', 'timestamp'],
    required: 3,
    returns: 'number',
    impl: timestampDiff,
    check: checkUnit('timestampdiff'),
  },
  {
    name: 'date_format',
    category: 'time',
    signature: 'date_format(ts[, pattern])',
    summary:
      "`ts` as text in UTC by a Java date pattern (default 'yyyy-MM-dd HH:mm:ss'): y, M, d, H, h, m, s, S (fraction), a (AM/PM) and text in single quotes.",
    params: ['timestamp', 'string'],
    required: 1,
    returns: 'string',
    impl: dateFormat,
    check: (args) => checkPattern(args),
  },
];
