import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDecoder, type DecodeOutput } from './format-decode.ts';
import type { DecodeOptions } from './format-options.ts';

const json: DecodeOptions = {
  format: 'json',
  header: true,
  delimiter: ',',
  infer_types: true,
  max_line: '1kb',
};

describe('line decoder, max_line', () => {
  it('makes a line longer than max_line a dead letter without holding it, and keeps offsets exact', () => {
    const decoder = createDecoder(json);
    const out: DecodeOutput = decoder.newOutput();
    const long = `{"pad":"${'x'.repeat(10_000)}"}`;
    decoder.push(Buffer.from('{"a":1}\n'));
    let held = 0;
    // The long line arrives 500 bytes at a time; the decoder drops what it cannot use.
    for (let i = 0; i < long.length; i += 500) {
      decoder.push(Buffer.from(long.slice(i, i + 500)));
      decoder.decode(out, 100, false);
      held = Math.max(held, decoder.pending);
      if (i > 2000) assert.equal(decoder.offset, 8, 'a checkpoint inside the long line resumes at its start');
    }
    decoder.push(Buffer.from('\n{"b":2}\n'));
    decoder.decode(out, 100, false);
    assert.ok(held <= 1024 + 500, `held ${held} bytes of the long line`);
    assert.deepEqual(out.records, [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(out.offsets, [0, 8 + long.length + 1]);
    assert.equal(out.failures.length, 1);
    const [failure] = out.failures;
    assert.equal(failure.offset, 8);
    assert.match(failure.message, /longer than max_line \(1kb\)/);
    assert.ok(failure.payload.length <= 1100 && failure.payload.startsWith('{"pad":"xxx'), failure.payload);
    assert.equal(decoder.offset, 8 + long.length + 1 + 8);
  });

  it('refuses a complete long line that arrived in one piece, and one that ends the input', () => {
    const decoder = createDecoder({ ...json, format: 'text' });
    const out = decoder.newOutput();
    decoder.push(Buffer.from(`short\n${'y'.repeat(3000)}\nok\n${'z'.repeat(2000)}`));
    decoder.decode(out, 100, false);
    decoder.decode(out, 100, true);
    assert.deepEqual(out.records, [{ line: 'short' }, { line: 'ok' }]);
    assert.deepEqual(
      out.failures.map((f) => f.offset),
      [6, 3010],
    );
  });
});

describe('CSV decoder, max_line', () => {
  it('makes a record longer than max_line a dead letter, even one whose quoted field spans lines', () => {
    const decoder = createDecoder({ ...json, format: 'csv' });
    const out = decoder.newOutput();
    const quoted = `"${'q\n'.repeat(2000)}",2\n`;
    const input = `a,b\n1,2\n${quoted}3,4\n`;
    for (let i = 0; i < input.length; i += 300) {
      decoder.push(Buffer.from(input.slice(i, i + 300)));
      decoder.decode(out, 100, false);
      assert.ok(decoder.pending <= 1024 + 300, `${decoder.pending} bytes pending`);
    }
    decoder.decode(out, 100, true);
    assert.deepEqual(out.records, [
      { a: 1, b: 2 },
      { a: 3, b: 4 },
    ]);
    assert.deepEqual(
      out.failures.map((f) => [f.offset, f.message]),
      [[8, `a CSV record of ${quoted.length} bytes, longer than max_line (1kb); skipped`]],
    );
    assert.equal(decoder.offset, input.length);
  });
});
