import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimerWheel } from './timer-wheel.ts';

function takeAll(wheel: TimerWheel, bound: number): string[][] {
  const due: string[][] = [];
  for (let keys = wheel.takeDue(bound); keys; keys = wheel.takeDue(bound)) due.push(keys);
  return due;
}

describe('TimerWheel', () => {
  it('hands out whole buckets in time order once their range is past the bound', () => {
    const wheel = new TimerWheel(10);
    wheel.add(25, 'c');
    wheel.add(3, 'a');
    wheel.add(9, 'b');
    wheel.add(25, 'c');
    wheel.add(-4, 'z');
    assert.equal(wheel.size, 5);
    assert.deepEqual(takeAll(wheel, 9), [['z']]);
    assert.deepEqual(takeAll(wheel, 10), [['a', 'b']]);
    assert.deepEqual(takeAll(wheel, 29), []);
    wheel.add(12, 'd');
    assert.deepEqual(takeAll(wheel, Number.POSITIVE_INFINITY), [['d'], ['c', 'c']]);
    assert.equal(wheel.size, 0);
  });

  it('starts a new bucket after its current one was taken', () => {
    const wheel = new TimerWheel(5);
    wheel.add(1, 'a');
    assert.deepEqual(takeAll(wheel, 5), [['a']]);
    wheel.add(2, 'b');
    assert.deepEqual(takeAll(wheel, 5), [['b']]);
    wheel.add(2, 'c');
    wheel.clear();
    assert.deepEqual(takeAll(wheel, Number.POSITIVE_INFINITY), []);
  });
});
