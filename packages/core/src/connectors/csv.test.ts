import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csvFieldFormatter, csvRecordEnd, inferCsvValue, parseCsvFields } from './csv.ts';
import { createDecoder, type DecodeOutput } from './format-decode.ts';
import type { DecodeOptions } from './format-options.ts';

function fieldsOf(text: string, delimiter = ',', infer = false): unknown[] | string {
  const fields: unknown[] = [];
  return parseCsvFields(text, delimiter, infer, fields) ?? fields;
}

const csv: DecodeOptions = { format: 'csv', header: true, delimiter: ',', infer_types: true };

function decodeCsv(input: string, options: DecodeOptions = csv, step = Number.POSITIVE_INFINITY) {
  const bytes = Buffer.from(input);
  const decoder = createDecoder(options);
  const out: DecodeOutput = { records: [], offsets: [], failures: [] };
  for (let i = 0; i < bytes.length; i += step) {
    decoder.push(Buffer.from(bytes.subarray(i, Math.min(bytes.length, i + step))));
    while (decoder.decode(out, 2, false) > 0);
  }
  while (decoder.decode(out, 2, true) > 0);
  return { ...out, decoder };
}

describe('csv fields', () => {
  it('splits plain, quoted, empty and escaped fields', () => {
    assert.deepEqual(fieldsOf('a,b,c'), ['a', 'b', 'c']);
    assert.deepEqual(fieldsOf('a,,c,'), ['a', '', 'c', '']);
    assert.deepEqual(fieldsOf('"a,1","say ""hi""",""'), ['a,1', 'say "hi"', '']);
    assert.deepEqual(fieldsOf('"line\nbreak",x'), ['line\nbreak', 'x']);
    assert.deepEqual(fieldsOf('a;"b;c"', ';'), ['a', 'b;c']);
    assert.deepEqual(fieldsOf('a"b,c'), ['a"b', 'c']);
    assert.deepEqual(fieldsOf(''), ['']);
  });

  it('reports unterminated quotes and text after a closing quote', () => {
    assert.match(fieldsOf('a,"bc') as string, /unterminated quoted field 2/);
    assert.match(fieldsOf('"ab"c,d') as string, /after the closing quote of field 1/);
  });

  it('infers numbers and booleans in unquoted fields only', () => {
    assert.deepEqual(fieldsOf('1,-2.5,1e3,true,FALSE,007,1.,x,"42",', ',', true), [
      1,
      -2.5,
      1000,
      true,
      false,
      '007',
      '1.',
      'x',
      '42',
      '',
    ]);
    assert.equal(inferCsvValue('12345678901234567890'), '12345678901234567890');
    assert.equal(inferCsvValue('9007199254740991'), 9007199254740991);
    assert.equal(inferCsvValue('-'), '-');
  });

  it('finds the end of a record across quoted line breaks', () => {
    const bytes = Buffer.from('a,"x\ny",b\nnext\n');
    assert.equal(csvRecordEnd(bytes, 0, bytes.length, 0x2c, false), 10);
    assert.equal(csvRecordEnd(bytes, 10, bytes.length, 0x2c, false), 15);
    assert.equal(csvRecordEnd(bytes, 0, 6, 0x2c, false), -1);
    assert.equal(csvRecordEnd(bytes, 0, 6, 0x2c, true), 6);
    const escaped = Buffer.from('"a""\nb"\n');
    assert.equal(csvRecordEnd(escaped, 0, escaped.length, 0x2c, false), escaped.length);
  });

  it('quotes output fields only when needed', () => {
    const format = csvFieldFormatter(',');
    assert.equal(format('plain'), 'plain');
    assert.equal(format('a,b'), '"a,b"');
    assert.equal(format('say "hi"'), '"say ""hi"""');
    assert.equal(format('two\nlines'), '"two\nlines"');
    assert.equal(format(12.5), '12.5');
    assert.equal(format(null), '');
    assert.equal(format(undefined), '');
    assert.equal(format(true), 'true');
    assert.equal(format({ a: [1, 2] }), '"{""a"":[1,2]}"');
    assert.equal(format(new Date(0)), '1970-01-01T00:00:00.000Z');
    assert.equal(csvFieldFormatter('|')('a|b'), '"a|b"');
    assert.equal(csvFieldFormatter('|')('a,b'), 'a,b');
  });
});

describe('csv decoder', () => {
  it('names fields from the header and types them', () => {
    const { records, offsets, failures } = decodeCsv('id,name,ok\r\n1,"Smith, J",true\r\n2,Lee,false\r\n');
    assert.deepEqual(records, [
      { id: 1, name: 'Smith, J', ok: true },
      { id: 2, name: 'Lee', ok: false },
    ]);
    assert.deepEqual(offsets, [12, 31]);
    assert.deepEqual(failures, []);
  });

  it('reads a record spanning lines, with its start offset, for every chunking', () => {
    const input = 'a,b\n1,"x\ny"\n\n2,"say ""z"""\n3,last';
    for (const step of [1, 2, 5, 100]) {
      const { records, offsets } = decodeCsv(input, csv, step);
      assert.deepEqual(records, [
        { a: 1, b: 'x\ny' },
        { a: 2, b: 'say "z"' },
        { a: 3, b: 'last' },
      ]);
      assert.deepEqual(offsets, [4, 13, 27]);
    }
  });

  it('turns bad rows into failures and goes on', () => {
    const { records, failures } = decodeCsv('a,b\n1,2\n1,2,3\n"x"y,2\n4,5\n');
    assert.deepEqual(records, [
      { a: 1, b: 2 },
      { a: 4, b: 5 },
    ]);
    assert.deepEqual(
      failures.map((f) => [f.payload, f.offset]),
      [
        ['1,2,3', 8],
        ['"x"y,2', 14],
      ],
    );
    assert.match(failures[0].message, /3 field\(s\), the header has 2/);
  });

  it('reports an unterminated quote at the end of the input', () => {
    const { records, failures } = decodeCsv('a\n1\n"open\n2\n');
    assert.deepEqual(records, [{ a: 1 }]);
    assert.equal(failures.length, 1);
    assert.equal(failures[0].offset, 4);
    assert.match(failures[0].message, /unterminated/);
  });

  it('names fields column0… without a header and keeps text when not inferring', () => {
    const { records } = decodeCsv('1;2\n3;4;5\n', {
      format: 'csv',
      header: false,
      delimiter: ';',
      infer_types: false,
    });
    assert.deepEqual(records, [
      { column0: '1', column1: '2' },
      { column0: '3', column1: '4', column2: '5' },
    ]);
  });

  it('continues from an offset with known columns', () => {
    const decoder = createDecoder(csv);
    decoder.reset(50, ['x', 'y']);
    decoder.push(Buffer.from('7,8\n'));
    const out: DecodeOutput = { records: [], offsets: [], failures: [] };
    decoder.decode(out, 10, false);
    assert.deepEqual(out.records, [{ x: 7, y: 8 }]);
    assert.deepEqual(out.offsets, [50]);
    assert.equal(decoder.offset, 54);
  });

  it('skips a byte-order mark before the header', () => {
    const { records, decoder } = decodeCsv('\ufeffid\n1\n');
    assert.deepEqual(decoder.columns, ['id']);
    assert.deepEqual(records, [{ id: 1 }]);
  });
});
