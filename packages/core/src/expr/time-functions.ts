/**
 * Time functions. A timestamp is epoch milliseconds; arguments may also be ISO-8601 text. All
 * calendar fields are in UTC.
 */

import { civil, civilFromDays, daysFromCivil, MS_PER_DAY } from './civil.ts';
import { evalError, failAt } from './failure.ts';
import { type FunctionSpec, literalString } from './function-spec.ts';
import { closest } from './suggest.ts';
import type { Expr } from './types.ts';

const TRUNC_UNITS = ['second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year'];
const PART_UNITS = [
  'year',
  'quarter',
  'month',
  'week',
  'day',
  'dow',
  'isodow',
  'doy',
  'hour',
  'minute',
  'second',
  'epoch',
];

function floorTo(ts: number, step: number): number {
  return ts - (((ts % step) + step) % step);
}

function dayOf(ts: number): number {
  return Math.floor(ts / MS_PER_DAY);
}

/** Monday = 1 … Sunday = 7 of a day number (1970-01-01 was a Thursday). */
function isoWeekday(days: number): number {
  return ((((days + 3) % 7) + 7) % 7) + 1;
}

function badUnit(fn: string, unit: string, units: readonly string[]): never {
  return evalError(`${fn}(): unknown unit '${unit}'; use one of ${units.join(', ')}`);
}

function dateTrunc(unit: string, ts: number): number {
  switch (unit) {
    case 'second':
      return floorTo(ts, 1000);
    case 'minute':
      return floorTo(ts, 60_000);
    case 'hour':
      return floorTo(ts, 3_600_000);
    case 'day':
      return floorTo(ts, MS_PER_DAY);
    case 'week': {
      const days = dayOf(ts);
      return (days - isoWeekday(days) + 1) * MS_PER_DAY;
    }
    case 'month':
    case 'quarter':
    case 'year': {
      civilFromDays(dayOf(ts));
      const month =
        unit === 'year' ? 1 : unit === 'month' ? civil.month : civil.month - ((civil.month - 1) % 3);
      return daysFromCivil(civil.year, month, 1) * MS_PER_DAY;
    }
    default:
      return badUnit('date_trunc', unit, TRUNC_UNITS);
  }
}

function isoWeek(days: number): number {
  const thursday = days - isoWeekday(days) + 4;
  civilFromDays(thursday);
  return Math.floor((thursday - daysFromCivil(civil.year, 1, 1)) / 7) + 1;
}

function datePart(unit: string, ts: number): number {
  const days = dayOf(ts);
  switch (unit) {
    case 'year':
      civilFromDays(days);
      return civil.year;
    case 'quarter':
      civilFromDays(days);
      return Math.floor((civil.month - 1) / 3) + 1;
    case 'month':
      civilFromDays(days);
      return civil.month;
    case 'day':
      civilFromDays(days);
      return civil.day;
    case 'week':
      return isoWeek(days);
    case 'dow':
      return isoWeekday(days) % 7;
    case 'isodow':
      return isoWeekday(days);
    case 'doy':
      civilFromDays(days);
      return days - daysFromCivil(civil.year, 1, 1) + 1;
    case 'hour':
      return Math.floor((ts - days * MS_PER_DAY) / 3_600_000);
    case 'minute':
      return Math.floor((ts - floorTo(ts, 3_600_000)) / 60_000);
    case 'second':
      return (ts - floorTo(ts, 60_000)) / 1000;
    case 'epoch':
      return ts / 1000;
    default:
      return badUnit('date_part', unit, PART_UNITS);
  }
}

function toIso(ts: number): string {
  if (Math.abs(ts) > 8.64e15) return evalError(`to_iso8601(): ${ts} is outside the range of dates`);
  return new Date(ts).toISOString();
}

function unitHint(unit: string, units: readonly string[]): string {
  const match = closest(unit, units);
  return match === undefined ? `use one of ${units.join(', ')}` : `did you mean '${match}'?`;
}

function checkUnit(fn: string, units: readonly string[]) {
  return (args: readonly Expr[]) => {
    const unit = literalString(args[0]);
    if (unit !== undefined && !units.includes(unit.toLowerCase())) {
      failAt('PLAN_TYPE_ERROR', args[0].start, `${fn}(): unknown unit '${unit}'; ${unitHint(unit, units)}`);
    }
  };
}

const identity = (ts: number) => ts;

/** The time functions. */
export const timeFunctions: readonly FunctionSpec[] = [
  {
    name: 'now',
    category: 'time',
    signature: 'now()',
    summary: 'The current processing time (epoch ms), read from the pipeline clock for each record.',
    params: [],
    required: 0,
    returns: 'timestamp',
    volatile: true,
  },
  {
    name: 'to_timestamp',
    category: 'time',
    signature: 'to_timestamp(x)',
    summary:
      'Reads a timestamp from ISO-8601 text (UTC when no offset is given) or epoch milliseconds; an error for anything else.',
    params: ['timestamp'],
    required: 1,
    returns: 'timestamp',
    impl: identity,
  },
  {
    name: 'date_trunc',
    category: 'time',
    signature: 'date_trunc(unit, ts)',
    summary: `Truncates \`ts\` to the start of its ${TRUNC_UNITS.join(', ')} (UTC; weeks start on Monday).`,
    params: ['unit', 'timestamp'],
    required: 2,
    returns: 'timestamp',
    impl: dateTrunc,
    check: checkUnit('date_trunc', TRUNC_UNITS),
  },
  {
    name: 'extract',
    category: 'time',
    signature: 'extract(unit FROM ts)',
    summary: `A field of \`ts\` in UTC: ${PART_UNITS.join(', ')} (dow: Sunday = 0; second has a fraction; epoch is in seconds).`,
    params: ['unit', 'timestamp'],
    required: 2,
    returns: 'number',
    impl: datePart,
    check: checkUnit('extract', PART_UNITS),
  },
  {
    name: 'date_part',
    category: 'time',
    signature: 'date_part(unit, ts)',
    summary: 'Same as `extract(unit FROM ts)`.',
    params: ['unit', 'timestamp'],
    required: 2,
    returns: 'number',
    impl: datePart,
    check: checkUnit('date_part', PART_UNITS),
  },
  {
    name: 'to_iso8601',
    category: 'time',
    signature: 'to_iso8601(ts)',
    summary: 'Formats `ts` as ISO-8601 text in UTC, e.g. 2024-05-01T12:00:00.000Z.',
    params: ['timestamp'],
    required: 1,
    returns: 'string',
    impl: toIso,
  },
  {
    name: 'epoch_ms',
    category: 'time',
    signature: 'epoch_ms(ts)',
    summary: 'Epoch milliseconds of `ts` (useful on ISO-8601 text).',
    params: ['timestamp'],
    required: 1,
    returns: 'number',
    impl: identity,
  },
];
