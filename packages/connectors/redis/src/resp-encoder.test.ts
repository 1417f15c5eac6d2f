/**
 * The sink's RESP encoder against byte-exact RESP: plain, non-ASCII text whose UTF-8 needs more
 * length digits than its characters, templates written part by part (integer ids digit by digit),
 * cached command headers, batches past the buffer.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { encodeCommand, RespEncoder } from './resp-encoder.ts';
import { fillTemplate, parseTemplate } from './template.ts';

/** RESP as the protocol describes it, the plain way: for comparing with the encoder. */
function reference(commands: readonly (readonly string[])[]): Buffer {
  const parts: Buffer[] = [];
  for (const args of commands) {
    parts.push(Buffer.from(`*${args.length}\r\n`));
    for (const a of args)
      parts.push(Buffer.from(`$${Buffer.byteLength(a)}\r\n`), Buffer.from(a), Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

describe('RESP encoder', () => {
  test('a command is an array of bulk strings, byte for byte', () => {
    assert.equal(
      encodeCommand(['HSET', 'user:1', 'name', 'Ada']).toString('latin1'),
      '*4\r\n$4\r\nHSET\r\n$6\r\nuser:1\r\n$4\r\nname\r\n$3\r\nAda\r\n',
    );
    assert.equal(
      encodeCommand(['SET', 'k', '']).toString('latin1'),
      '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n',
    );
    // 'é' is 2 bytes in UTF-8, '€' 3, '😀' 4 (two UTF-16 units).
    assert.deepEqual(
      encodeCommand(['SET', 'é', '€😀']),
      Buffer.concat([
        Buffer.from('*3\r\n$3\r\nSET\r\n$2\r\n'),
        Buffer.from([0xc3, 0xa9]),
        Buffer.from('\r\n$7\r\n'),
        Buffer.from([0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]),
        Buffer.from('\r\n'),
      ]),
    );
  });

  test('lengths whose UTF-8 bytes need more digits than their characters, long and mixed text', () => {
    const texts = [
      'é'.repeat(9), // 9 characters, 18 bytes: the length prefix grows by a digit
      '€'.repeat(4), // 4 → 12
      '€'.repeat(66), // 66 → 198, past the byte-by-byte path
      '😀'.repeat(50), // 100 units → 200 bytes
      'a'.repeat(63) + 'é', // non-ASCII at the end of the short path
      'x'.repeat(64), // ASCII at the end of the short path
      'x'.repeat(65), // ASCII past it
      'x'.repeat(100_000), // past the initial buffer
      'n\r\n$3\r\nbad', // CR LF inside a value is just bytes
      '',
    ];
    const commands = texts.map((t, i) => ['HSET', `key:${i}`, t, t]);
    const encoder = new RespEncoder(16);
    for (const c of commands) encoder.command(c);
    assert.equal(encoder.count, commands.length);
    assert.deepEqual(Buffer.from(encoder.bytes()), reference(commands));
  });

  test('begin/constant/arg/end encode what command() does, with the record of each command; reset empties the batch', () => {
    const encoder = new RespEncoder(8);
    encoder.command(['XADD', 's', 'MAXLEN', '~', '10', '*', 'id', '1'], 3);
    assert.equal(encoder.recordOf(0), 3);
    encoder.reset();
    assert.equal(encoder.count, 0);
    encoder.begin(7, 'ZADD', 4);
    encoder.arg('board');
    encoder.arg('2.5');
    encoder.constant('{"id":1}');
    encoder.end();
    assert.equal(encoder.count, 1);
    assert.equal(encoder.recordOf(0), 7);
    assert.equal(encoder.nameOf(0), 'ZADD');
    assert.deepEqual(Buffer.from(encoder.bytes()), reference([['ZADD', 'board', '2.5', '{"id":1}']]));
  });

  test('filled(): a template written part by part is the bytes of the filled string', () => {
    const cases: [string, Row][] = [
      ['user:{id}', { id: 7 }],
      ['{a}', { a: 'x' }],
      ['café:{city}:{n}:€', { city: 'Zürich', n: 12.5 }],
      ['{a}{b}', { a: '€'.repeat(3), b: 'é' }], // 4 characters, 8 bytes; then 9 → 17 below
      ['{a}{b}', { a: '€'.repeat(4), b: 'é'.repeat(5) }],
      ['k:{tags}', { tags: ['x', 1] }],
      ['plain', {}],
    ];
    const encoder = new RespEncoder(8);
    for (const [text, record] of cases) {
      encoder.begin(0, 'DEL', 2);
      encoder.filled(parseTemplate(text, 'key'), record);
      encoder.end();
    }
    assert.deepEqual(
      Buffer.from(encoder.bytes()),
      reference(
        cases.map(([text, record]) => ['DEL', fillTemplate(parseTemplate(text, 'key'), record) as string]),
      ),
    );
  });

  test('filled() with integer ids written digit by digit, and templates and headers changing mid-batch', () => {
    const ids = [
      0,
      -0,
      7,
      9,
      10,
      99,
      100,
      -1,
      -10,
      -123456789,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      1e15,
      2.5,
      2 ** 53,
      -1e300,
    ];
    // Non-ASCII literals (bytes ≠ characters), a literal-only tail, several templates interleaved.
    const templates = [
      'user:{id}',
      'é€:{id}:😀',
      '{id}',
      'x'.repeat(120) + ':{id}',
      '{id}:',
      'a:{id}:{id}',
    ].map((t) => parseTemplate(t, 'key'));
    const encoder = new RespEncoder(8);
    const expected: string[][] = [];
    for (const [n, id] of ids.entries())
      for (const [t, template] of templates.entries()) {
        // The header cache by name and count: a command of each count in turn.
        const extra = (n + t) % 3;
        encoder.begin(0, 'HSET', 2 + 2 * extra);
        encoder.filled(template, { id });
        const args = ['HSET', fillTemplate(template, { id }) as string];
        for (let k = 0; k < extra; k++) {
          encoder.constant(`f${k}`);
          encoder.arg(String(id));
          args.push(`f${k}`, String(id));
        }
        encoder.end();
        expected.push(args);
      }
    assert.equal(encoder.count, expected.length);
    assert.deepEqual(Buffer.from(encoder.bytes()), reference(expected));
  });

  test('select(): the bytes of the commands at the positions given, in order', () => {
    const encoder = new RespEncoder(64);
    const commands = [
      ['DEL', 'a'],
      ['SET', 'b', '1'],
      ['SET', 'c', '2'],
      ['DEL', 'd'],
    ];
    for (const c of commands) encoder.command(c);
    assert.deepEqual(encoder.select([1, 3]), reference([commands[1] as string[], commands[3] as string[]]));
    assert.equal(encoder.select([]).length, 0);
  });
});
