/**
 * The sink's reply reader fed whole, split in two at every byte, in three pieces and byte by byte:
 * the same count of replies and the same error replies by their number every time.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RespReplyReader } from './resp-replies.ts';

describe('RESP reply reader', () => {
  const replies = [
    ':1\r\n',
    '+OK\r\n',
    '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n',
    '$15\r\n1733590000000-0\r\n',
    '$-1\r\n',
    '$6\r\na\r\nb\r\n\r\n', // a bulk string holding CR LF
    '*2\r\n$1\r\na\r\n:3\r\n',
    '*3\r\n*1\r\n-ERR nested\r\n$0\r\n\r\n+x\r\n', // an error inside an array is not the command's
    '*-1\r\n',
    '*0\r\n',
    '-ERR unknown command \u00e9\r\n',
    ':-12\r\n',
  ];
  /** The error replies by their number, and how many replies there are. */
  const expected = {
    errors: [
      [2, 'WRONGTYPE Operation against a key holding the wrong kind of value'],
      [10, 'ERR unknown command \u00e9'],
    ],
    count: replies.length,
  };
  const bytes = Buffer.from(replies.join(''), 'utf8');

  function read(chunks: Buffer[]): { errors: [number, string][]; count: number } {
    const errors: [number, string][] = [];
    const reader = new RespReplyReader((reply, message) => errors.push([reply, message]));
    for (const c of chunks) reader.feed(c);
    return { errors, count: reader.count };
  }

  test('whole: one call per top-level reply, the text of each error reply', () => {
    assert.deepEqual(read([bytes]), expected);
  });

  test('split in two at every byte boundary', () => {
    for (let at = 0; at <= bytes.length; at++)
      assert.deepEqual(read([bytes.subarray(0, at), bytes.subarray(at)]), expected, `split at byte ${at}`);
  });

  test('in three pieces at every pair of boundaries, and byte by byte', () => {
    for (let a = 1; a < bytes.length; a += 3)
      for (let b = a; b < bytes.length; b += 5)
        assert.deepEqual(
          read([bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)]),
          expected,
          `split at ${a} and ${b}`,
        );
    const single = Array.from(bytes, (_v, i) => bytes.subarray(i, i + 1));
    assert.deepEqual(read(single), expected);
  });

  test('bytes that are not RESP throw', () => {
    assert.throws(() => read([Buffer.from('HTTP/1.1 400 Bad Request\r\n')]), /unexpected RESP reply type/);
    assert.throws(() => read([Buffer.from('$x\r\n')]), /malformed RESP bulk length/);
  });
});
