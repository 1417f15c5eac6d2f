import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../testing/random.ts';
import { goldenCheckpoint } from './test-support.ts';
import {
  decodeValue,
  encodeValue,
  MalformedValueError,
  swapBytes,
  UnstorableValueError,
} from './value-codec.ts';

const DEPTH = 100;

function roundTrip(value: unknown): unknown {
  const { bytes, start } = encodeValue(value, 0, DEPTH);
  assert.equal(start, 0);
  return decodeValue(bytes, DEPTH);
}

function bytesOf(value: unknown): number[] {
  return [...encodeValue(value, 0, DEPTH).bytes];
}

const CHARS = [
  'a',
  'Z',
  '0',
  ' ',
  '"',
  '\\',
  '\n',
  '\0',
  'é',
  'ß',
  '€',
  '流',
  '🚰',
  '\ud800',
  '\udfff',
  '\u007f',
  '\u0080',
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  127,
  128,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_VALUE,
  Number.MAX_VALUE,
  0.1,
  -1.5e-300,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];

/** A random storable value of at most `depth` container levels. */
function randomValue(next: () => number, depth: number): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const count = (max: number): number => Math.floor(next() ** 2 * max);
  const text = (): string => {
    const n = count(next() < 0.1 ? 200 : 12);
    let s = '';
    for (let i = 0; i < n; i++)
      s += next() < 0.7 ? String.fromCharCode(32 + Math.floor(next() * 95)) : pick(CHARS);
    return s;
  };
  const leaf = (): unknown => {
    switch (Math.floor(next() * 10)) {
      case 0:
        return pick([undefined, null, true, false]);
      case 1:
        return pick(NUMBERS);
      case 2:
        return Math.floor((next() - 0.5) * 2 ** (1 + Math.floor(next() * 60)));
      case 3:
        return (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20);
      case 4:
        return BigInt(Math.floor((next() - 0.5) * 1e15)) * 10n ** BigInt(Math.floor(next() * 30));
      case 5:
        return new Date(Math.floor(next() * 4e12));
      default:
        return text();
    }
  };
  if (depth === 0 || next() < 0.45) return leaf();
  const n = count(8);
  switch (Math.floor(next() * 7)) {
    case 0:
      return Array.from({ length: n }, () => randomValue(next, depth - 1));
    case 1: {
      const m = new Map<unknown, unknown>();
      for (let i = 0; i < n; i++)
        m.set(next() < 0.8 ? leaf() : randomValue(next, depth - 1), randomValue(next, depth - 1));
      return m;
    }
    case 2: {
      const s = new Set<unknown>();
      for (let i = 0; i < n; i++) s.add(next() < 0.8 ? leaf() : randomValue(next, depth - 1));
      return s;
    }
    case 3: {
      const values = Array.from({ length: n }, () => Math.floor((next() - 0.5) * 1000));
      return pick([
        () => new Float64Array(values.map((v) => v / 7)),
        () => new Float32Array(values.map((v) => v / 4)),
        () => new Int32Array(values),
        () => new Int16Array(values),
        () => new Uint8Array(values),
        () => new Uint8ClampedArray(values),
        () => new BigInt64Array(values.map(BigInt)),
        () => Buffer.from(values),
      ])();
    }
    default: {
      const o: { [k: string]: unknown } = {};
      for (let i = 0; i < n; i++)
        o[next() < 0.2 ? String(count(100)) : text()] = randomValue(next, depth - 1);
      return o;
    }
  }
}

describe('value codec', () => {
  it('round-trips random values of every supported type (seeded)', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const value = randomValue(seededRandom(seed), 6);
      assert.deepStrictEqual(roundTrip(value), value, `seed ${seed}`);
    }
  });

  it('keeps -0, NaN, ±Infinity and every float64 bit for bit', () => {
    for (const n of NUMBERS) assert.ok(Object.is(roundTrip(n), n), String(n));
    const back = roundTrip(new Float64Array([-0, Number.NaN, Number.NEGATIVE_INFINITY])) as Float64Array;
    assert.ok(Object.is(back[0], -0) && Number.isNaN(back[1]) && back[2] === Number.NEGATIVE_INFINITY);
    const next = seededRandom(7);
    const view = new DataView(new ArrayBuffer(8));
    for (let i = 0; i < 1000; i++) {
      view.setUint32(0, Math.floor(next() * 2 ** 32));
      view.setUint32(4, Math.floor(next() * 2 ** 32));
      const x = view.getFloat64(0);
      assert.ok(Object.is(roundTrip(x), x), String(x));
    }
  });

  it('writes small integers as int32 and other numbers as float64', () => {
    assert.deepEqual(bytesOf(-2), [0x04, 0xfe, 0xff, 0xff, 0xff]);
    assert.deepEqual(bytesOf(-0), [0x05, 0, 0, 0, 0, 0, 0, 0, 0x80]);
    assert.deepEqual(bytesOf(2 ** 31), [0x05, 0, 0, 0, 0, 0, 0, 0xe0, 0x41]);
  });

  it('writes lengths as varints and picks the string encoding', () => {
    assert.deepEqual(bytesOf('ab'), [0x08, 2, 0x61, 0x62]);
    assert.deepEqual(bytesOf('é'), [0x07, 2, 0xc3, 0xa9]);
    assert.deepEqual(bytesOf('\ud800'), [0x09, 1, 0x00, 0xd8]);
    assert.deepEqual(bytesOf('x'.repeat(300)).slice(0, 3), [0x08, 0xac, 0x02]);
    assert.deepEqual(bytesOf(`${'x'.repeat(100)}é`).slice(0, 2), [0x07, 102]);
    assert.deepEqual(bytesOf(-12n), [0x06, 3, 0x2d, 0x31, 0x32]);
    assert.deepEqual(bytesOf(new Int16Array([1, -2])), [0x15, 4, 4, 1, 0, 0xfe, 0xff]);
  });

  it('keeps strings UTF-8 cannot carry, of every length', () => {
    for (const s of ['a\ud800', '\udc00'.repeat(100), `${'é'.repeat(60)}\ud83d`, '🚰'.repeat(40)]) {
      assert.equal(roundTrip(s), s);
    }
  });

  it('keeps Buffer, DataView and ArrayBuffer apart from Uint8Array, and views own their bytes', () => {
    const base = new Uint8Array([9, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const value = {
      buffer: Buffer.from([1, 2]),
      bytes: new Uint8Array([1, 2]),
      window: new Float64Array(base.buffer.slice(0, 8)),
      slice: new Uint16Array(base.buffer, 2, 2),
      dv: new DataView(base.buffer, 1, 3),
      ab: base.buffer.slice(2, 5),
    };
    const back = roundTrip(value) as typeof value;
    assert.deepStrictEqual(back, value);
    assert.ok(Buffer.isBuffer(back.buffer) && !Buffer.isBuffer(back.bytes));
    assert.equal(back.slice.byteOffset, 0);
    assert.equal(back.slice.buffer.byteLength, 4);
  });

  it('keeps a __proto__ key as a property, and object key order', () => {
    const value = JSON.parse('{"b":1,"__proto__":{"polluted":true},"2":3,"a":4}') as object;
    const back = roundTrip(value) as { [k: string]: unknown };
    assert.deepStrictEqual(Object.keys(back), ['2', 'b', '__proto__', 'a']);
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(back, '__proto__')?.value, { polluted: true });
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  });

  it('reads holes as undefined and writes a shared value twice', () => {
    const shared = { n: 1 };
    const holes: unknown[] = [shared, shared];
    holes[3] = 4;
    const back = roundTrip(holes) as unknown[];
    assert.deepStrictEqual(back, [{ n: 1 }, { n: 1 }, undefined, 4]);
    assert.ok(2 in back);
    assert.notEqual(back[0], back[1]);
  });

  it('keeps Maps with keys of any type, in insertion order', () => {
    const m = new Map<unknown, unknown>([
      [1, 'one'],
      ['1', 'text'],
      [1n, 'big'],
      [null, 'null'],
      [undefined, 'undefined'],
      [Number.NaN, 'nan'],
      [{ a: 1 }, 'object'],
      [[1, 2], 'array'],
    ]);
    assert.deepStrictEqual(roundTrip(m), m);
  });

  it('refuses functions, symbols, class instances and nesting past the limit', () => {
    class Point {
      x = 1;
    }
    class Counts extends Map<string, number> {}
    const refused: [unknown, RegExp][] = [
      [{ f: () => 1 }, /a function/],
      [[Symbol('s')], /a symbol/],
      [{ p: new Point() }, /an instance of Point/],
      [new Counts(), /an instance of Counts/],
      [new WeakMap(), /an instance of WeakMap/],
      [Promise.resolve(1), /an instance of Promise/],
      [new Error('x'), /an instance of Error/],
      [/x/, /an instance of RegExp/],
      [new URL('http://x'), /an instance of URL/],
    ];
    for (const [value, reason] of refused) {
      assert.throws(
        () => encodeValue(value, 0, DEPTH),
        (err: unknown) => {
          assert.ok(err instanceof UnstorableValueError);
          assert.match(err.message, reason);
          return true;
        },
      );
    }
    let deep: unknown = 1;
    for (let i = 0; i < DEPTH; i++) deep = [deep];
    assert.deepStrictEqual(roundTrip(deep), deep);
    assert.throws(() => encodeValue([deep], 0, DEPTH), /nested deeper than 100 levels/);
    const cycle: { self?: unknown } = {};
    cycle.self = cycle;
    assert.throws(() => encodeValue(cycle, 0, DEPTH), UnstorableValueError);
  });

  it('accepts objects without a prototype, and reads them back as plain objects', () => {
    const o = Object.create(null) as { [k: string]: unknown };
    o.a = 1;
    assert.deepStrictEqual(roundTrip(o), { a: 1 });
  });

  it('leaves the reserved bytes to the caller', () => {
    const { bytes, start } = encodeValue('x', 56, DEPTH);
    assert.equal(start, 56);
    assert.deepEqual([...bytes.subarray(56)], [0x08, 1, 0x78]);
  });

  it('swaps element bytes for a big-endian host', () => {
    const b = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    swapBytes(b, 0, 8, 4);
    assert.deepEqual([...b], [4, 3, 2, 1, 8, 7, 6, 5]);
  });
});

describe('value codec on malformed bytes', () => {
  function assertMalformed(bytes: number[], message: RegExp): void {
    assert.throws(
      () => decodeValue(new Uint8Array(bytes), DEPTH),
      (err: unknown) => {
        assert.ok(err instanceof MalformedValueError, String(err));
        assert.match(err.message, message);
        return true;
      },
    );
  }

  it('refuses every truncation of a value', () => {
    const whole = encodeValue(goldenCheckpoint(), 0, DEPTH).bytes;
    for (let cut = 0; cut < whole.length; cut++) {
      assert.throws(() => decodeValue(whole.subarray(0, cut), DEPTH), MalformedValueError, `cut at ${cut}`);
    }
  });

  it('names unknown tags, impossible lengths and bad bodies', () => {
    assertMalformed([0x7f], /unknown tag 0x7f at payload byte 0/);
    assertMalformed([0x10, 1, 0x42], /unknown tag 0x42 at payload byte 2/);
    assertMalformed([0x08, 10, 0x61], /a string needs 10 bytes but only 1 remain/);
    assertMalformed([0x10, 0xff, 0xff, 0xff, 0xff, 0x0f], /an array of 4294967295 items is longer/);
    assertMalformed([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /not a varint below 2\^32/);
    assertMalformed([0x11, 1, 0x04, 0, 0, 0, 0, 0x01], /where a string key was expected/);
    assertMalformed([0x15, 9, 3, 1, 2, 3], /3 bytes, not a multiple of its 8-byte elements/);
    assertMalformed([0x15, 99, 0], /unknown typed array kind 99/);
    assertMalformed([0x06, 2, 0x31, 0x78], /a bigint spelled "1x"/);
    assertMalformed([0x01, 0x01], /1 bytes follow the value/);
    assertMalformed([], /a value needs 1 bytes but only 0 remain/);
    assertMalformed(
      new Array(DEPTH + 1).fill([0x10, 1]).flat().concat([0x01]),
      /nested deeper than 100 levels/,
    );
  });
});
