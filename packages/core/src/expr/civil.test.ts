import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { civil, civilFromDays, daysFromCivil, parseIsoTimestamp, timestampOf } from './civil.ts';

describe('civil dates', () => {
  it('round-trips day numbers and agrees with Date', () => {
    for (let days = -800_000; days <= 800_000; days += 997) {
      civilFromDays(days);
      const d = new Date(days * 86_400_000);
      assert.deepEqual(
        [civil.year, civil.month, civil.day],
        [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()],
      );
      assert.equal(daysFromCivil(civil.year, civil.month, civil.day), days);
    }
  });
});

describe('parseIsoTimestamp', () => {
  const valid: readonly (readonly [string, number])[] = [
    ['2024-05-01', Date.UTC(2024, 4, 1)],
    ['2024-05-01T12:30', Date.UTC(2024, 4, 1, 12, 30)],
    ['2024-05-01T12:30:15', Date.UTC(2024, 4, 1, 12, 30, 15)],
    ['2024-05-01 12:30:15.5', Date.UTC(2024, 4, 1, 12, 30, 15, 500)],
    ['2024-05-01T12:30:15,250Z', Date.UTC(2024, 4, 1, 12, 30, 15, 250)],
    ['2024-05-01T12:30:15.123456789Z', Date.UTC(2024, 4, 1, 12, 30, 15, 123)],
    ['2024-05-01t12:30:15z', Date.UTC(2024, 4, 1, 12, 30, 15)],
    ['2024-05-01T12:30:15+02:00', Date.UTC(2024, 4, 1, 10, 30, 15)],
    ['2024-05-01T12:30:15-0530', Date.UTC(2024, 4, 1, 18, 0, 15)],
    ['2024-05-01T12:30:15+02', Date.UTC(2024, 4, 1, 10, 30, 15)],
    ['2024-02-29', Date.UTC(2024, 1, 29)],
    ['2000-02-29', Date.UTC(2000, 1, 29)],
    ['1969-12-31T23:59:59.999Z', -1],
    ['+012024-01-01', Date.UTC(12024, 0, 1)],
  ];
  for (const [text, ms] of valid) {
    it(`reads ${text}`, () => assert.equal(parseIsoTimestamp(text), ms));
  }
  const invalid = [
    '',
    '2024',
    '2024-5-1',
    '2024-13-01',
    '2024-00-10',
    '2023-02-29',
    '1900-02-29',
    '2024-04-31',
    '2024-05-01T24:00',
    '2024-05-01T12:60',
    '2024-05-01T12:30:61',
    '2024-05-01T12:30+25:00',
    '2024-05-01T',
    'May 1, 2024',
    '2024-05-01Z',
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.ok(Number.isNaN(parseIsoTimestamp(text))));
  }
  it('agrees with Date.parse on UTC text', () => {
    for (let ms = Date.UTC(1950, 0, 1); ms < Date.UTC(2100, 0, 1); ms += 86_400_000 * 13 + 3_723_456) {
      const iso = new Date(ms).toISOString();
      assert.equal(parseIsoTimestamp(iso), Date.parse(iso), iso);
    }
  });
});

describe('timestampOf', () => {
  it('reads epoch milliseconds as numbers or integer text, and ISO text', () => {
    assert.equal(timestampOf(5), 5);
    assert.equal(timestampOf(' 1714564800000 '), 1_714_564_800_000);
    assert.equal(timestampOf('-5'), -5);
    assert.equal(timestampOf('2024-05-01'), Date.UTC(2024, 4, 1));
    assert.ok(Number.isNaN(timestampOf(Number.POSITIVE_INFINITY)));
    assert.ok(Number.isNaN(timestampOf('1.5')));
    assert.ok(Number.isNaN(timestampOf(true)));
    assert.ok(Number.isNaN(timestampOf(null)));
  });
});
