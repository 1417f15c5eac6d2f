import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../errors.ts';
import { nextCronTime, parseCron } from './cron.ts';

const at = (iso: string) => Date.parse(iso);
const next = (expr: string, after: string) => {
  const t = nextCronTime(parseCron(expr), at(after));
  return t === undefined ? undefined : new Date(t).toISOString();
};

test('every minute fires at the start of the next minute', () => {
  assert.equal(next('* * * * *', '2026-12-07T02:30:15Z'), '2026-12-07T02:31:00.000Z');
  assert.equal(next('* * * * *', '2026-12-07T02:30:00Z'), '2026-12-07T02:31:00.000Z');
});

test('steps, ranges and lists select their minutes and hours', () => {
  assert.equal(next('*/15 * * * *', '2026-12-07T02:31:00Z'), '2026-12-07T02:45:00.000Z');
  assert.equal(next('*/15 * * * *', '2026-12-07T02:45:00Z'), '2026-12-07T03:00:00.000Z');
  assert.equal(next('5,35 9-17 * * *', '2026-12-07T17:40:00Z'), '2026-12-08T09:05:00.000Z');
  assert.equal(next('0 10-20/5 * * *', '2026-12-07T15:00:00Z'), '2026-12-07T20:00:00.000Z');
  assert.equal(next('30/10 * * * *', '2026-12-07T02:55:00Z'), '2026-12-07T03:30:00.000Z');
});

test('months and weekdays by number or name; 7 is Sunday', () => {
  // 2026-12-07 is a Monday.
  assert.equal(next('0 0 * * sat', '2026-12-07T00:00:00Z'), '2026-12-12T00:00:00.000Z');
  assert.equal(next('0 0 * * 7', '2026-12-07T00:00:00Z'), '2026-12-13T00:00:00.000Z');
  assert.equal(next('0 0 1 jan *', '2026-12-07T00:00:00Z'), '2027-01-01T00:00:00.000Z');
  assert.equal(next('0 12 * * mon-fri', '2026-12-11T13:00:00Z'), '2026-12-14T12:00:00.000Z');
});

test('a restricted day of month and day of week fire on either (as cron does)', () => {
  // The 15th, or any Friday: Friday 2026-12-11 comes first.
  assert.equal(next('0 0 15 * fri', '2026-12-07T00:00:00Z'), '2026-12-11T00:00:00.000Z');
  assert.equal(next('0 0 15 * fri', '2026-12-12T00:00:00Z'), '2026-12-15T00:00:00.000Z');
});

test('leap days are found and impossible dates never fire', () => {
  assert.equal(next('0 0 29 2 *', '2026-12-07T00:00:00Z'), '2028-02-29T00:00:00.000Z');
  assert.equal(nextCronTime(parseCron('0 0 30 2 *'), at('2026-12-07T00:00:00Z')), undefined);
});

test('malformed expressions are config errors naming the field', () => {
  const bad = (expr: string, part: RegExp) =>
    assert.throws(
      () => parseCron(expr, 'cron'),
      (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && part.test(err.message),
    );
  bad('* * * *', /5 fields/);
  bad('60 * * * *', /minute '60' has 60, outside 0-59/);
  bad('* 24 * * *', /hour/);
  bad('* * 0 * *', /day of month/);
  bad('* * * foo *', /month 'foo'/);
  bad('*/0 * * * *', /step '0'/);
  bad('* * * * 5-2', /backwards/);
});
