/**
 * A small parser of 5-field cron expressions (`minute hour day-of-month month day-of-week`), and
 * the next time one fires, in UTC. Hand-written: the `http_poll` source needs only this, and the
 * maintained cron packages bring schedulers and time-zone databases the core does not want.
 */

import { SluiceError } from '../errors.ts';

/** A parsed cron expression: the allowed values of each field. */
export interface CronSchedule {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday (7 is read as 0). */
  readonly weekdays: ReadonlySet<number>;
  /** Whether day-of-month / day-of-week were restricted (not `*`): cron ORs them when both are. */
  readonly daysRestricted: boolean;
  readonly weekdaysRestricted: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldRange {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names of the values from `min` on (months, weekdays). */
  readonly names?: readonly string[];
}

const FIELDS: readonly FieldRange[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day of week', min: 0, max: 7, names: WEEKDAYS },
];

/**
 * Parses `expression` (five fields; each `*`, a number or name, a range `a-b`, a step `*\/n` or
 * `a-b/n` or `a/n`, or a comma-separated list of these). Throws CONFIG_INVALID at `path` saying
 * which field is wrong.
 */
export function parseCron(expression: string, path = 'cron'): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `'${expression}' is not a cron expression: give 5 fields (minute hour day-of-month month day-of-week), e.g. '*/15 * * * *'`,
      { path },
    );
  }
  const sets = parts.map((part, i) => parseField(part, FIELDS[i] as FieldRange, expression, path));
  const weekdays = new Set([...(sets[4] as Set<number>)].map((d) => (d === 7 ? 0 : d)));
  return {
    minutes: sets[0] as Set<number>,
    hours: sets[1] as Set<number>,
    days: sets[2] as Set<number>,
    months: sets[3] as Set<number>,
    weekdays,
    daysRestricted: parts[2] !== '*',
    weekdaysRestricted: parts[4] !== '*',
  };
}

function parseField(text: string, field: FieldRange, expression: string, path: string): Set<number> {
  const fail = (why: string): never => {
    throw new SluiceError('CONFIG_INVALID', `cron '${expression}': ${field.name} '${text}' ${why}`, { path });
  };
  const value = (token: string): number => {
    const named = field.names?.indexOf(token.toLowerCase()) ?? -1;
    if (named >= 0) return named + (field.name === 'month' ? 1 : 0);
    if (!/^\d+$/.test(token)) fail(`has '${token}', which is no number${field.names ? ' or name' : ''}`);
    const n = Number(token);
    if (n < field.min || n > field.max) fail(`has ${n}, outside ${field.min}-${field.max}`);
    return n;
  };
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const [range = '', stepText, extra] = item.split('/');
    if (extra !== undefined || range === '') fail('is malformed');
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1)
        fail(`has step '${stepText}', not a positive number`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = field.min;
      to = field.max;
    } else if (range.includes('-')) {
      const [a = '', b = '', more] = range.split('-');
      if (more !== undefined) fail('is malformed');
      from = value(a);
      to = value(b);
      if (from > to) fail(`has the range ${a}-${b}, which runs backwards`);
    } else {
      from = value(range);
      to = stepText === undefined ? from : field.max;
    }
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}

/** Whether `schedule` allows the UTC day of `date`. */
function dayMatches(schedule: CronSchedule, date: Date): boolean {
  const dom = schedule.days.has(date.getUTCDate());
  const dow = schedule.weekdays.has(date.getUTCDay());
  if (schedule.daysRestricted && schedule.weekdaysRestricted) return dom || dow;
  return dom && dow;
}

/**
 * The first time after `after` (epoch ms) at which `schedule` fires: the start of a matching UTC
 * minute. Undefined when it never fires within eight years (`0 0 30 2 *`).
 */
export function nextCronTime(schedule: CronSchedule, after: number): number | undefined {
  const d = new Date(Math.floor(after / 60_000) * 60_000 + 60_000);
  const limit = after + 8 * 366 * 86_400_000;
  while (d.getTime() <= limit) {
    if (!schedule.months.has(d.getUTCMonth() + 1)) {
      d.setUTCMonth(d.getUTCMonth() + 1, 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!dayMatches(schedule, d)) {
      d.setUTCDate(d.getUTCDate() + 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!schedule.hours.has(d.getUTCHours())) {
      d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!schedule.minutes.has(d.getUTCMinutes())) {
      d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return d.getTime();
  }
  return undefined;
}
