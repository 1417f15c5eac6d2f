/**
 * timestampadd, timestampdiff and date_format, checked against JavaScript's Date over many
 * seeded timestamps (an independent computation of the same calendar), and on Flink's examples.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import { compileExpression } from './index.ts';

/** A seeded stream of timestamps between 1900 and 2100. */
function* timestamps(count: number): Generator<number> {
  let state = 12345;
  for (let i = 0; i < count; i++) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const lo = Date.UTC(1900, 0, 1);
    const hi = Date.UTC(2100, 0, 1);
    yield lo + Math.floor((state / 2 ** 31) * (hi - lo));
  }
}

/** `ts` plus `months` by Date: the same day of the target month, or its last day. */
function dateAddMonths(ts: number, months: number): number {
  const d = new Date(ts);
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), last));
  target.setUTCHours(d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
  return target.getTime();
}

const run = (text: string, record: { [k: string]: unknown }) => compileExpression(text).evaluate(record);

describe('calendar functions', () => {
  it('timestampadd by months, quarters and years agrees with Date; fixed units add their lengths', () => {
    const add = compileExpression('TIMESTAMPADD(MONTH, n, ts)');
    const quarters = compileExpression("timestampadd('quarter', n, ts)");
    const years = compileExpression('TIMESTAMPADD(YEAR, n, ts)');
    const hours = compileExpression('TIMESTAMPADD(HOUR, n, ts)');
    let n = -30;
    for (const ts of timestamps(2000)) {
      n = n >= 30 ? -30 : n + 1;
      assert.equal(
        add.evaluate({ n, ts }),
        dateAddMonths(ts, n),
        `${new Date(ts).toISOString()} + ${n} months`,
      );
      assert.equal(quarters.evaluate({ n, ts }), dateAddMonths(ts, 3 * n));
      assert.equal(years.evaluate({ n, ts }), dateAddMonths(ts, 12 * n));
      assert.equal(hours.evaluate({ n, ts }), ts + n * 3_600_000);
    }
    assert.equal(run("TIMESTAMPADD(MONTH, 1, '2024-01-31T10:00:00Z')", {}), Date.UTC(2024, 1, 29, 10));
  });

  it('timestampdiff counts whole units, as many as timestampadd can add without passing the end', () => {
    const diff = compileExpression('TIMESTAMPDIFF(MONTH, a, b)');
    const days = compileExpression('TIMESTAMPDIFF(DAY, a, b)');
    const all = [...timestamps(400)];
    for (let i = 0; i + 1 < all.length; i++) {
      const [a, b] = [all[i], all[i + 1]];
      // Independently: the largest k (toward zero) with a + k months not past b.
      let k = 0;
      if (b >= a) while (dateAddMonths(a, k + 1) <= b) k++;
      else while (dateAddMonths(a, k - 1) >= b) k--;
      assert.equal(diff.evaluate({ a, b }), k, `${new Date(a).toISOString()} → ${new Date(b).toISOString()}`);
      assert.equal(days.evaluate({ a, b }), Math.trunc((b - a) / 86_400_000));
    }
  });

  it('date_format writes the fields Date gives, in UTC', () => {
    const f = compileExpression("date_format(ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS')");
    const plain = compileExpression('DATE_FORMAT(ts)');
    for (const ts of timestamps(1000)) {
      const iso = new Date(ts).toISOString();
      assert.equal(f.evaluate({ ts }), iso.slice(0, 23));
      assert.equal(plain.evaluate({ ts }), `${iso.slice(0, 10)} ${iso.slice(11, 19)}`);
    }
    assert.equal(
      run("date_format(ts, 'yy/M/d h:mm a')", { ts: Date.UTC(2024, 4, 1, 15, 4) }),
      '24/5/1 3:04 PM',
    );
  });

  it('an unknown unit or pattern letter is a type error at its place', () => {
    for (const [text, message] of [
      ['TIMESTAMPADD(MONHT, 1, ts)', /timestampadd\(\): unknown unit 'monht'; did you mean 'month'\?/],
      ["date_format(ts, 'yyyy-QQ')", /date_format\(\): pattern letter 'Q' is not supported/],
    ] as const)
      assert.throws(
        () => compileExpression(text),
        (err: unknown) =>
          err instanceof SluiceError && err.code === 'PLAN_TYPE_ERROR' && message.test(err.message),
      );
  });
});
