import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Row } from '../record.ts';
import { type GenerateRecordOptions, generateRecord } from './generate-record.ts';
import type { TemplateName } from './templates.ts';

const N = 20_000;
const START = Date.parse('2026-01-01T00:00:00Z');

function records(template: TemplateName, options: GenerateRecordOptions = {}, seed = 42): Row[] {
  return Array.from({ length: N }, (_, i) => generateRecord(template, seed, i, options));
}

const distinct = (rows: Row[], field: string) => new Set(rows.map((r) => r[field])).size;

function isValidOrder(r: Row): boolean {
  return (
    typeof r.order_id === 'string' &&
    typeof r.customer_id === 'string' &&
    typeof r.region === 'string' &&
    typeof r.amount === 'number' &&
    typeof r.currency === 'string' &&
    typeof r.items === 'number'
  );
}

describe('templates', () => {
  it('orders: fields, ranges, regions as keys, event time from start and step', () => {
    const rows = records('orders');
    for (const [i, r] of rows.entries()) {
      assert.deepEqual(Object.keys(r), [
        'order_id',
        'seq',
        'ts',
        'customer_id',
        'region',
        'amount',
        'currency',
        'items',
      ]);
      assert.equal(r.seq, i);
      assert.equal(r.ts, START + 10 * i);
      const amount = r.amount as number;
      assert.ok(
        amount >= 1 && amount <= 500 && Math.round(amount * 100) / 100 === amount,
        `amount ${amount}`,
      );
      assert.ok((r.items as number) >= 1 && (r.items as number) <= 5);
      assert.match(r.region as string, /^[a-z]+-[a-z]+$/);
    }
    assert.equal(distinct(rows, 'region'), 8);
    assert.equal(distinct(records('orders', { keys: 20 }), 'region'), 20);
    assert.ok(distinct(rows, 'customer_id') > 5000);
  });

  it('clicks and sensors: fields and key cardinality', () => {
    const clicks = records('clicks', { keys: 50, time_step: '1s', start_time: 0 });
    assert.deepEqual(Object.keys(clicks[0]), ['seq', 'ts', 'user_id', 'page', 'referrer', 'duration_ms']);
    assert.equal(distinct(clicks, 'user_id'), 50);
    assert.equal(clicks[3].ts, 3000);
    assert.ok(clicks.every((r) => (r.duration_ms as number) >= 50 && (r.duration_ms as number) < 30_050));
    const sensors = records('sensors');
    assert.deepEqual(Object.keys(sensors[0]), [
      'seq',
      'ts',
      'sensor_id',
      'temperature',
      'humidity',
      'battery',
    ]);
    assert.equal(distinct(sensors, 'sensor_id'), 100);
    assert.equal(sensors[205].sensor_id, 'sensor-5');
    for (const r of sensors) {
      const t = r.temperature as number;
      const h = r.humidity as number;
      assert.ok(t >= 13 && t <= 32 && h >= 30 && h <= 80, `${t} ${h}`);
    }
  });

  it('is deterministic per seed and index, and seeds differ', () => {
    assert.deepEqual(generateRecord('orders', 1, 123_456), generateRecord('orders', 1, 123_456));
    assert.notDeepEqual(generateRecord('orders', 1, 5), generateRecord('orders', 2, 5));
    const big = 2 ** 40 + 17;
    assert.deepEqual(generateRecord('sensors', 9, big), generateRecord('sensors', 9, big));
    assert.equal(typeof generateRecord('clicks', 9, big).user_id, 'string');
  });

  it('injects malformed, late and out-of-order records at the configured fractions', () => {
    const clean = records('orders');
    const options = { malformed: 0.05, late: 0.1, out_of_order: 0.2, late_by: '2m', jitter: '2s' };
    const faulty = records('orders', options);
    let malformed = 0;
    let late = 0;
    let shuffled = 0;
    for (const [i, r] of faulty.entries()) {
      const base = START + 10 * i;
      assert.equal(r.seq, i);
      if (!isValidOrder(r)) {
        malformed++;
        assert.equal(r.ts, base);
        continue;
      }
      const { ts, ...values } = r;
      const { ts: _cleanTs, ...cleanValues } = clean[i];
      assert.deepEqual(values, cleanValues, 'faults do not change the values');
      if (ts === base - 120_000) late++;
      else if (ts !== base) {
        shuffled++;
        assert.ok((ts as number) >= base - 2000 && (ts as number) < base, `jitter ${base - (ts as number)}`);
      }
    }
    const near = (count: number, fraction: number) => Math.abs(count / N - fraction) < fraction * 0.2;
    assert.ok(near(malformed, 0.05), `malformed ${malformed}`);
    assert.ok(near(late, 0.1), `late ${late}`);
    assert.ok(near(shuffled, 0.2 * (2000 / 2001)), `out of order ${shuffled}`);
  });
});
