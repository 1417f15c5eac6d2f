/**
 * UTC calendar arithmetic on epoch milliseconds without allocating Date objects, and ISO-8601
 * parsing that treats text without an offset as UTC.
 */

export const MS_PER_DAY = 86_400_000;

/** The civil date last computed by `civilFromDays`; reused so that no object is allocated. */
export const civil = { year: 1970, month: 1, day: 1 };

/** Sets `civil` to the proleptic Gregorian date of `days` since 1970-01-01 (H. Hinnant's algorithm). */
export function civilFromDays(days: number): void {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  civil.day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  civil.month = mp < 10 ? mp + 3 : mp - 9;
  civil.year = yoe + era * 400 + (civil.month <= 2 ? 1 : 0);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = month > 2 ? month - 3 : month + 9;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Number of days in `month` (1-12) of `year`. */
export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeap(year) ? 29 : MONTH_DAYS[month - 1];
}

const ISO =
  /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * Parses ISO-8601 date or date-time text (`2024-05-01`, `2024-05-01T12:30:00.250Z`,
 * `2024-05-01 12:30+02:00`) into epoch milliseconds. Text without an offset is UTC. Returns NaN
 * when the text is not ISO-8601 or names an impossible date.
 */
export function parseIsoTimestamp(text: string): number {
  const m = ISO.exec(text);
  if (m === null) return Number.NaN;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const millis = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000 + 1e-6);
  let offset = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (oh > 23 || om > 59) return Number.NaN;
    offset = sign * (oh * 60 + om) * 60_000;
  }
  const days = daysFromCivil(year, month, day);
  return days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset;
}

const EPOCH_TEXT = /^-?\d{1,16}$/;

/**
 * Reads a timestamp from epoch milliseconds (a finite number, or integer text) or ISO-8601
 * text; returns NaN for anything else.
 */
export function timestampOf(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : Number.NaN;
  if (typeof value !== 'string') return Number.NaN;
  const text = value.trim();
  return EPOCH_TEXT.test(text) ? Number(text) : parseIsoTimestamp(text);
}
