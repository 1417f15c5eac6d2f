import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDecoder, type DecodeOutput } from './format-decode.ts';
import type { DecodeOptions } from './format-options.ts';
import {
  decodedUtf8Problem,
  invalidUtf8At,
  type JsonOutcome,
  jsonOverflowPath,
  jsonTooDeepAt,
  parseJsonText,
} from './input-guards.ts';

const base: DecodeOptions = { format: 'json', header: true, delimiter: ',', infer_types: true };

/** Decodes `chunks` pushed one by one; returns records, failures and offsets. */
function decodeAll(options: DecodeOptions, chunks: Buffer[]): DecodeOutput {
  const decoder = createDecoder(options);
  const out = decoder.newOutput();
  for (const chunk of chunks) {
    decoder.push(chunk);
    decoder.decode(out, 1_000_000, false);
  }
  decoder.decode(out, 1_000_000, true);
  return out;
}

describe('jsonTooDeepAt', () => {
  it('finds the bracket that opens the level past the limit', () => {
    assert.equal(jsonTooDeepAt('{"a":[[1]]}', 3), -1);
    assert.equal(jsonTooDeepAt('{"a":[[[1]]]}', 3), 7);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    assert.equal(jsonTooDeepAt(`{"s":"${'[{'.repeat(50)}\\"${'['.repeat(50)}"}`, 2), -1);
    assert.equal(jsonTooDeepAt(`{"s":"\\\\"${',[[['.repeat(10)}`, 2), 11);
  });

  it('does not scan a text too short to be too deep', () => {
    assert.equal(jsonTooDeepAt('[[[[', 2), -1);
  });
});

describe('parseJsonText', () => {
  const outcome: JsonOutcome = { value: undefined, error: undefined };

  it('refuses numbers beyond the range of a double and says where', () => {
    parseJsonText('{"a":[1,{"b c":-1E+309}]}', 1000, outcome);
    assert.match(String(outcome.error), /number at \$\.a\[1\]\["b c"\] is out of range/);
    parseJsonText('1e400', 1000, outcome);
    assert.match(String(outcome.error), /out of range/);
  });

  it('accepts numbers that only look large, and underflow', () => {
    parseJsonText(`{"a":1e308,"b":1e-400,"c":"1e999","d":0.${'0'.repeat(400)}1}`, 1000, outcome);
    assert.equal(outcome.error, undefined);
    assert.deepEqual(outcome.value, { a: 1e308, b: 0, c: '1e999', d: 0 });
  });

  it('finds the path of an out-of-range number', () => {
    assert.equal(jsonOverflowPath('[1e999]', [Number.POSITIVE_INFINITY]), '$[0]');
  });
});

describe('invalidUtf8At', () => {
  const at = (bytes: number[]) => invalidUtf8At(Buffer.from(bytes), 0, bytes.length);
  it('accepts valid text and finds the first bad byte', () => {
    assert.equal(at([...Buffer.from('aé😀')]), -1);
    assert.equal(at([0x61, 0xff]), 1);
    assert.equal(at([0x61, 0xc0, 0xaf]), 1, 'overlong');
    assert.equal(at([0xed, 0xa0, 0x80]), 0, 'surrogate');
    assert.equal(at([0x61, 0xe2, 0x82]), 1, 'cut');
  });
});

describe('decodedUtf8Problem', () => {
  const check = (bytes: Buffer, mode: 'dead_letter' | 'replace' = 'dead_letter') =>
    decodedUtf8Problem(bytes.toString('utf8'), bytes, 0, bytes.length, mode);
  it('finds every invalid sequence Node decoded to U+FFFD, with its byte', () => {
    for (const bytes of [
      [0x61, 0xff],
      [0x61, 0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0x61, 0xe2, 0x82],
      [0xf4, 0x90, 0x80, 0x80],
    ]) {
      const at = invalidUtf8At(Buffer.from(bytes), 0, bytes.length);
      assert.ok(at >= 0);
      assert.match(check(Buffer.from(bytes)) ?? '', new RegExp(`at byte ${at} `));
    }
  });
  it('accepts valid text, a real U+FFFD included, and anything under replace', () => {
    assert.equal(check(Buffer.from('aé😀')), undefined);
    assert.equal(check(Buffer.from('a\uFFFDb')), undefined);
    assert.equal(check(Buffer.from([0x61, 0xff]), 'replace'), undefined);
  });
});

describe('decoders and invalid UTF-8', () => {
  const bad = Buffer.from([0x61, 0xff, 0x62]);

  it('JSON lines: a line with invalid bytes is a failure with its bytes, at its offset', () => {
    const out = decodeAll(base, [Buffer.from('{"a":"é"}\n{"a":"'), bad, Buffer.from('"}\n{"a":"😀"}\n')]);
    assert.deepEqual(out.records, [{ a: 'é' }, { a: '😀' }]);
    assert.deepEqual(out.offsets, [0, 23]);
    assert.equal(out.failures.length, 1);
    assert.equal(out.failures[0].offset, 11);
    assert.deepEqual(
      Buffer.from(out.failures[0].payload, 'base64'),
      Buffer.from([...Buffer.from('{"a":"'), ...bad, 0x22, 0x7d]),
    );
    assert.match(out.failures[0].message, /invalid UTF-8 at byte 7 of the record/);
  });

  it('text lines: the same; with invalid_utf8: replace, U+FFFD', () => {
    const chunks = [Buffer.from('x\n'), bad, Buffer.from('\ny\n')];
    const strict = decodeAll({ ...base, format: 'text' }, chunks);
    assert.deepEqual(strict.records, [{ line: 'x' }, { line: 'y' }]);
    assert.deepEqual(strict.offsets, [0, 6]);
    assert.equal(strict.failures[0].offset, 2);
    const lenient = decodeAll({ ...base, format: 'text', invalid_utf8: 'replace' }, chunks);
    assert.deepEqual(lenient.records, [{ line: 'x' }, { line: 'a\uFFFDb' }, { line: 'y' }]);
  });

  it('CSV: a character cut between two chunks is not invalid; a bad row is a failure', () => {
    const euro = Buffer.from('€');
    const out = decodeAll({ ...base, format: 'csv' }, [
      Buffer.concat([Buffer.from('k,v\nx,'), euro.subarray(0, 1)]),
      Buffer.concat([euro.subarray(1), Buffer.from('\n'), bad, Buffer.from(',1\nz,2\n')]),
    ]);
    assert.deepEqual(out.records, [
      { k: 'x', v: '€' },
      { k: 'z', v: 2 },
    ]);
    assert.equal(out.failures.length, 1);
    assert.match(out.failures[0].message, /invalid UTF-8 at byte 1/);
  });

  it('CSV: an inferred number beyond a double is a failure; quoted, it stays text', () => {
    const out = decodeAll({ ...base, format: 'csv' }, [Buffer.from('k,v\na,1e400\nb,"1e400"\nc,1e300\n')]);
    assert.deepEqual(out.records, [
      { k: 'b', v: '1e400' },
      { k: 'c', v: 1e300 },
    ]);
    assert.match(out.failures[0].message, /field 'v' is a number out of range/);
  });

  it('JSON lines: a record deeper than max_depth is a failure with its text', () => {
    const deep = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const out = decodeAll(base, [Buffer.from(`{"a":1}\n${deep}\n{"a":2}\n`)]);
    assert.deepEqual(out.records, [{ a: 1 }, { a: 2 }]);
    assert.equal(out.failures[0].payload, deep);
    assert.match(out.failures[0].message, /nested deeper than max_depth \(1000\) at character 1005/);
  });
});
