/**
 * INTERVAL literals: `INTERVAL '5' MINUTE`, `INTERVAL '1 minute'`, `INTERVAL '1h30m'` → milliseconds.
 */

const UNIT_MS: { readonly [unit: string]: number } = {
  ms: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
};

const VARIABLE_UNITS = new Set([
  'month',
  'months',
  'mon',
  'mons',
  'year',
  'years',
  'y',
  'quarter',
  'quarters',
]);

/** The unit names INTERVAL accepts, for suggestions. */
export const intervalUnits: readonly string[] = Object.keys(UNIT_MS);

/** Milliseconds in one `unit` (case-insensitive), or undefined when it is not a fixed-length unit. */
export function intervalUnitMs(unit: string): number | undefined {
  const key = unit.toLowerCase();
  return Object.hasOwn(UNIT_MS, key) ? UNIT_MS[key] : undefined;
}

/** Whether `unit` is a calendar unit (month, year) that has no fixed length in milliseconds. */
export function isVariableUnit(unit: string): boolean {
  return VARIABLE_UNITS.has(unit.toLowerCase());
}

const PART = /\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([A-Za-z]+)\s*/y;

/**
 * Parses interval text such as `1 minute`, `2 hours 30 minutes`, `90s` or `1h30m` into
 * milliseconds. Returns a message saying what is wrong when the text is not an interval.
 */
export function parseIntervalText(text: string): number | string {
  let total = 0;
  let parts = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const m = PART.exec(text);
    if (m === null) {
      PART.lastIndex = at;
      break;
    }
    const ms = intervalUnitMs(m[2]);
    if (ms === undefined) {
      return isVariableUnit(m[2])
        ? `'${m[2]}' has no fixed length; write the interval in days, hours, minutes or seconds`
        : `'${m[2]}' is not an interval unit; use ms, second, minute, hour, day or week`;
    }
    total += Number(m[1]) * ms;
    parts++;
  }
  if (parts === 0 || PART.lastIndex !== text.length) {
    return /^\s*[+-]?[\d.]+\s*$/.test(text)
      ? `INTERVAL '${text}' needs a unit, e.g. INTERVAL '${text.trim()}' SECOND`
      : `'${text}' is not an interval; write e.g. '5 minutes', '90s' or '1h30m'`;
  }
  return total;
}
