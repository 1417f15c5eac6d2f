import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../testing/random.ts';
import { RecordBuffer } from './pattern-buffer.ts';

test('the record buffer gives records by (time, arrival) across its queue and heap', () => {
  const rnd = seededRandom(5);
  const buffer = new RecordBuffer();
  const model: { t: number; seq: number }[] = [];
  let seq = 0;
  let clock = 0;
  const taken: number[] = [];
  const expected: number[] = [];
  for (let round = 0; round < 40; round++) {
    // Mostly in order, some behind: both the queue and the heap fill, past the compaction size.
    const n = Math.floor(rnd() * 12_000);
    for (let i = 0; i < n; i++) {
      clock += Math.floor(rnd() * 2);
      const t = rnd() < 0.1 ? clock - Math.floor(rnd() * 50) : clock;
      buffer.push(t, seq, { seq }, `k${seq % 7}`);
      model.push({ t, seq });
      seq++;
    }
    model.sort((a, b) => a.t - b.t || a.seq - b.seq);
    const take = Math.floor(rnd() * model.length);
    for (const m of model.splice(0, take)) expected.push(m.seq);
    for (let i = 0; i < take; i++) {
      assert.ok(buffer.top());
      taken.push(buffer.topRecord.seq as number);
      assert.equal(buffer.topKey, `k${(buffer.topRecord.seq as number) % 7}`);
      buffer.pop();
    }
    const left = buffer.entries();
    assert.equal(left.times.length, model.length);
  }
  assert.deepEqual(taken, expected);
});
