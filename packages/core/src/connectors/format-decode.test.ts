import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDecoder, type DecodeOutput, type RecordDecoder } from './format-decode.ts';
import type { DecodeOptions } from './format-options.ts';

const json: DecodeOptions = { format: 'json', header: true, delimiter: ',', infer_types: true };
const text: DecodeOptions = { ...json, format: 'text' };

function output(): DecodeOutput {
  return { records: [], offsets: [], failures: [] };
}

/** Pushes `input` in pieces of `step` bytes, decoding after each, then ends it. */
function decodeAll(
  options: DecodeOptions,
  input: Buffer | string,
  step = Number.POSITIVE_INFINITY,
  max = 1000,
) {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const decoder = createDecoder(options);
  const out = output();
  const drain = (final: boolean) => {
    while (decoder.decode(out, max, final) > 0);
  };
  for (let i = 0; i < bytes.length; i += step) {
    decoder.push(Buffer.from(bytes.subarray(i, Math.min(bytes.length, i + step))));
    drain(false);
  }
  drain(true);
  return { ...out, decoder };
}

describe('line decoder', () => {
  it('gives each JSON line as the text of its record; text and CSV decoders give none', () => {
    const decoder = createDecoder(json);
    const out = decoder.newOutput();
    decoder.push(Buffer.from('{ "a": 1.0 }\r\nnot json\n\n{"b":"\\u00e9"}\n'));
    decoder.decode(out, 10, true);
    assert.deepEqual(out.records, [{ a: 1 }, { b: 'é' }]);
    assert.deepEqual(out.texts, ['{ "a": 1.0 }', '{"b":"\\u00e9"}'], 'as written, without the line end');
    assert.equal(out.failures.length, 1);
    assert.equal(createDecoder(text).newOutput().texts, undefined);
    assert.equal(createDecoder({ ...json, format: 'csv' }).newOutput().texts, undefined);
  });

  it('decodes JSON lines with the byte offset of each line', () => {
    const { records, offsets, failures, decoder } = decodeAll(json, '{"a":1}\n{"a":2}\r\n\n{"a":3}\n');
    assert.deepEqual(records, [{ a: 1 }, { a: 2 }, { a: 3 }]);
    assert.deepEqual(offsets, [0, 8, 18]);
    assert.deepEqual(failures, []);
    assert.equal(decoder.offset, 26);
    assert.equal(decoder.pending, 0);
  });

  it('turns malformed and non-object lines into failures and goes on', () => {
    const { records, failures } = decodeAll(json, '{"a":1}\n{oops\n42\n[1]\n   \n{"a":2}\n');
    assert.deepEqual(records, [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(
      failures.map((f) => [f.payload, f.offset]),
      [
        ['{oops', 8],
        ['42', 14],
        ['[1]', 17],
      ],
    );
    assert.match(failures[0].message, /invalid JSON/);
    assert.match(failures[1].message, /must hold an object, not number/);
  });

  it('holds an unterminated last line until the end of the input', () => {
    const decoder = createDecoder(json);
    const out = output();
    decoder.push(Buffer.from('{"a":1}\n{"a":'));
    assert.equal(decoder.decode(out, 10, false), 1);
    assert.equal(decoder.offset, 8);
    assert.equal(decoder.pending, 5);
    decoder.push(Buffer.from('2}'));
    assert.equal(decoder.decode(out, 10, false), 0);
    assert.equal(decoder.decode(out, 10, true), 1);
    assert.deepEqual(out.records, [{ a: 1 }, { a: 2 }]);
    assert.equal(decoder.offset, 15);
  });

  it('stops at max and continues where it stopped', () => {
    const input = Array.from({ length: 10 }, (_, i) => JSON.stringify({ i })).join('\n');
    const decoder = createDecoder(json);
    decoder.push(Buffer.from(input));
    const seen: number[] = [];
    for (;;) {
      const out = output();
      const n = decoder.decode(out, 3, true);
      if (n === 0) break;
      assert.ok(n <= 3);
      seen.push(...out.records.map((r) => r.i as number));
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('keeps byte offsets exact with multi-byte UTF-8 split across chunks', () => {
    const lines = ['{"s":"héllo"}', '{"s":"日本語"}', '{"s":"🎉 x"}', '{"s":"plain"}'];
    const input = Buffer.from(lines.join('\n') + '\n');
    const expected: number[] = [];
    let at = 0;
    for (const line of lines) {
      expected.push(at);
      at += Buffer.byteLength(line) + 1;
    }
    for (const step of [1, 2, 3, 5, 7, 1000]) {
      const { records, offsets } = decodeAll(json, input, step, 2);
      assert.deepEqual(
        records.map((r) => r.s),
        ['héllo', '日本語', '🎉 x', 'plain'],
        `step ${step}`,
      );
      assert.deepEqual(offsets, expected, `step ${step}`);
    }
  });

  it('skips a UTF-8 byte-order mark at the start only', () => {
    const { records, offsets } = decodeAll(json, Buffer.from('\ufeff{"a":1}\n{"a":2}\n'));
    assert.deepEqual(records, [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(offsets, [3, 11]);
  });

  it('decodes text lines as { line }, keeping blanks inside lines', () => {
    const { records, offsets } = decodeAll(text, 'first\r\n\n  indented  \nlast');
    assert.deepEqual(records, [{ line: 'first' }, { line: '  indented  ' }, { line: 'last' }]);
    assert.deepEqual(offsets, [0, 8, 21]);
  });

  it('resets to an offset and counts from there', () => {
    const decoder: RecordDecoder = createDecoder(json);
    decoder.push(Buffer.from('{"a":1}\n'));
    decoder.reset(100);
    assert.equal(decoder.pending, 0);
    const out = output();
    decoder.push(Buffer.from('{"b":2}\n'));
    decoder.decode(out, 10, false);
    assert.deepEqual(out.records, [{ b: 2 }]);
    assert.deepEqual(out.offsets, [100]);
    assert.equal(decoder.offset, 108);
  });

  it('gives the same records and offsets for every chunking', () => {
    const rows: string[] = [];
    for (let i = 0; i < 200; i++) {
      rows.push(i % 17 === 0 ? '' : i % 23 === 0 ? '{bad' : JSON.stringify({ i, s: 'ü'.repeat(i % 5) }));
    }
    for (const input of [rows.join('\n'), rows.join('\r\n')]) {
      const whole = decodeAll(json, input);
      assert.equal(whole.records.length + whole.failures.length, 200 - 12);
      for (const step of [1, 13, 64, 4096]) {
        const split = decodeAll(json, input, step, 7);
        assert.deepEqual(split.records, whole.records);
        assert.deepEqual(split.offsets, whole.offsets);
        assert.deepEqual(split.failures, whole.failures);
      }
    }
  });
});

describe('line decoder with invalid UTF-8', () => {
  it('keeps byte offsets exact after invalid bytes', () => {
    const input = Buffer.concat([
      Buffer.from([0xff, 0x0a]),
      Buffer.from('{"a":1}\n'),
      Buffer.from([0x22, 0xe2, 0x82, 0x0a]),
      Buffer.from('{"a":"é"}\n{"a":3}\n'),
    ]);
    for (const step of [1, 3, 1000]) {
      const { records, offsets, failures } = decodeAll(json, input, step);
      assert.deepEqual(records, [{ a: 1 }, { a: 'é' }, { a: 3 }]);
      assert.deepEqual(offsets, [2, 14, 25]);
      assert.deepEqual(
        failures.map((f) => f.offset),
        [0, 10],
      );
    }
  });
});
