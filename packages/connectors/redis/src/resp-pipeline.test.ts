/**
 * The sink's RESP path: the encoder against byte-exact RESP, the reply reader fed whole, split at
 * every byte and byte by byte, and a connection to the machine's Redis that keeps each error
 * reply by the index of its command in a pipelined batch.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import {
  encodeCommand,
  parseRedisUrl,
  RespConnection,
  RespEncoder,
  RespReplyReader,
  RespSetupError,
} from './resp-pipeline.ts';
import { fillTemplate, parseTemplate } from './template.ts';
import {
  dropKeys,
  REDIS_URL,
  redisAvailable,
  type TestClient,
  testClient,
  uniqueName,
} from './test-support.ts';

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

describe('Redis URLs', () => {
  test('host, port, TLS, user, password (percent-decoded) and database', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379'), { host: '127.0.0.1', port: 6379, tls: false });
    assert.deepEqual(parseRedisUrl('rediss://u:p%40ss@cache.example:6380/3'), {
      host: 'cache.example',
      port: 6380,
      tls: true,
      username: 'u',
      password: 'p@ss',
      database: 3,
    });
    assert.deepEqual(parseRedisUrl('redis://:secret@[::1]'), {
      host: '::1',
      port: 6379,
      tls: false,
      password: 'secret',
    });
    assert.throws(() => parseRedisUrl('http://x'), /scheme/);
    assert.throws(() => parseRedisUrl('redis://x/db'), /database number/);
  });
});

const available = await redisAvailable();
const client: TestClient | undefined = available ? await testClient() : undefined;
const prefix = uniqueName('resp');
after(async () => {
  if (client === undefined) return;
  await dropKeys(client, prefix);
  await client.close();
});

describe('RESP connection to Redis', { skip: !available }, () => {
  const options = (url: string) => ({
    endpoint: parseRedisUrl(url),
    connectTimeout: 5000,
    replyTimeout: 5000,
    name: 'sluice-resp-test',
  });

  test('a pipelined batch: every reply counted, the error reply of the refused command by its index', async () => {
    const r = client as TestClient;
    await r.set(`${prefix}:str`, 'a string');
    const connection = await RespConnection.connect(options(REDIS_URL));
    try {
      const encoder = new RespEncoder(64);
      for (let i = 0; i < 500; i++)
        encoder.command(['HSET', i === 250 ? `${prefix}:str` : `${prefix}:h:${i % 10}`, 'v', `é${i}`]);
      encoder.command(['XADD', `${prefix}:s`, '*', 'a', '1']);
      const result = await connection.send(encoder.bytes(), encoder.count);
      assert.equal(result.lost, undefined);
      assert.equal(result.replied, 501);
      assert.deepEqual(
        [...(result.errors ?? [])].map(([j, m]) => [j, m.split(' ')[0]]),
        [[250, 'WRONGTYPE']],
      );
      assert.equal(await r.hGet(`${prefix}:h:9`, 'v'), 'é499');
      assert.equal(await r.xLen(`${prefix}:s`), 1);
    } finally {
      await connection.close();
    }
    assert.equal(connection.open, false);
  });

  test('setup: SELECT of the URL’s database; a refused AUTH is a RespSetupError with Redis’s reason', async () => {
    const r = client as TestClient;
    const connection = await RespConnection.connect(options(`${REDIS_URL}/2`));
    const encoder = new RespEncoder(64);
    encoder.command(['SET', `${prefix}:db`, 'two']);
    await connection.send(encoder.bytes(), 1);
    await connection.close();
    assert.equal(await r.get(`${prefix}:db`), null, 'not in database 0');
    const db2 = r.duplicate({ database: 2 });
    db2.on('error', () => {});
    await db2.connect();
    try {
      assert.equal(await db2.get(`${prefix}:db`), 'two');
      await db2.del(`${prefix}:db`);
    } finally {
      await db2.close();
    }
    await assert.rejects(
      RespConnection.connect(options(REDIS_URL.replace('redis://', 'redis://nobody:wrong@'))),
      (err: unknown) => err instanceof RespSetupError && /^WRONGPASS/.test(err.message),
    );
  });
});
