import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DueEntry, DueQueue } from './due-queue.ts';

describe('due queue', () => {
  it('pops in (due, seq) order through random pushes, due changes and removals', () => {
    let state = 7;
    const rnd = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 4294967296;
    };
    const queue = new DueQueue<DueEntry>();
    const live = new Set<DueEntry>();
    let seq = 0;
    for (let step = 0; step < 5000; step++) {
      const r = rnd();
      if (r < 0.5 || live.size === 0) {
        const entry = { queuedDue: Math.floor(rnd() * 100), seq: seq++, heapIndex: -1 };
        queue.push(entry);
        live.add(entry);
      } else if (r < 0.75) {
        const entry = [...live][Math.floor(rnd() * live.size)];
        entry.queuedDue = Math.floor(rnd() * 100);
        queue.update(entry);
      } else {
        const entry = [...live][Math.floor(rnd() * live.size)];
        queue.remove(entry);
        assert.equal(entry.heapIndex, -1);
        live.delete(entry);
      }
      assert.equal(queue.size, live.size);
    }
    const expected = [...live].sort((a, b) => a.queuedDue - b.queuedDue || a.seq - b.seq);
    const popped: DueEntry[] = [];
    for (let e = queue.peek(); e !== undefined; e = queue.peek()) {
      popped.push(e);
      queue.remove(e);
    }
    assert.deepEqual(popped, expected);
  });
});
