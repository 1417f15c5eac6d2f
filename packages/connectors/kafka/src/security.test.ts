/**
 * The `kafka` source and sink against the broker's real security listeners (see
 * `security-test-support.ts`): SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, TLS verified with
 * the generated CA, TLS with a client certificate, and SASL over TLS (SASL_SSL). Topics are
 * created and checked over the PLAINTEXT listener; everything the connectors do goes through the
 * secured one.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { inspect } from 'node:util';
import type { Row, Sink } from '@sluice/core';
import {
  MTLS_BROKER,
  SASL_BROKER,
  SASL_SSL_BROKER,
  SASL_USERS,
  type SaslMechanism,
  securityListenersAvailable,
  TLS_BROKER,
  tlsFiles,
} from './security-test-support.ts';
import { kafkaSink } from './sink.ts';
import type { KafkaSinkState } from './sink-config.ts';
import {
  type CapturingLogger,
  capturingLogger,
  committedOffsets,
  openKafkaReader,
  readUntil,
  sinkConfig,
  sinkContext,
  Topics,
  uniqueName,
} from './test-support.ts';

const available = await securityListenersAvailable();
const tls = available ? tlsFiles() : undefined;
const MECHANISMS: SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

const topics = new Topics();
after(() => topics.cleanup());

/** Connection options of a test case: brokers plus `sasl` and/or `tls`. */
type Connection = { brokers: string[]; sasl?: object; tls?: object };

type SaslListener = 'SASL_PLAINTEXT' | 'SASL_SSL';

/** SASL over `listener`; on SASL_SSL the broker certificate is verified with the generated CA. */
function sasl(
  mechanism: SaslMechanism,
  listener: SaslListener = 'SASL_PLAINTEXT',
  password = SASL_USERS[mechanism].password,
): Connection {
  const credentials = { mechanism, username: SASL_USERS[mechanism].username, password };
  return listener === 'SASL_SSL'
    ? { brokers: [SASL_SSL_BROKER], sasl: credentials, tls: { ca: tls!.ca } }
    : { brokers: [SASL_BROKER], sasl: credentials };
}

/** Every mechanism on SASL_PLAINTEXT; PLAIN and SCRAM-SHA-512 on SASL_SSL. */
const SASL_CASES: { listener: SaslListener; mechanism: SaslMechanism; title: string; label: string }[] = [
  ...MECHANISMS.map((mechanism) => ({ listener: 'SASL_PLAINTEXT' as const, mechanism })),
  { listener: 'SASL_SSL' as const, mechanism: 'PLAIN' as const },
  { listener: 'SASL_SSL' as const, mechanism: 'SCRAM-SHA-512' as const },
].map((c) => {
  const ssl = c.listener === 'SASL_SSL';
  return {
    ...c,
    title: `${ssl ? 'SASL_SSL' : 'SASL'} ${c.mechanism}`,
    label: `${ssl ? 'sasl-ssl' : 'sasl'}-${c.mechanism.toLowerCase()}`,
  };
});

const rows = (from: number, to: number): Row[] =>
  Array.from({ length: to - from }, (_, i) => ({ n: from + i, key: `k${(from + i) % 17}` }));

async function writeAll(sink: Sink, records: Row[]): Promise<void> {
  for (let i = 0; i < records.length; i += 100) {
    const chunk = records.slice(i, i + 100);
    assert.equal(await sink.write({ records: chunk, times: chunk.map(() => Date.now()) }), undefined);
  }
}

/**
 * Writes `count` records with the sink and reads them back with the source, both over
 * `connection`; the source commits its position and the group's offsets are checked over
 * PLAINTEXT. Returns the logs of both.
 */
async function roundTrip(connection: Connection, label: string, count = 300): Promise<CapturingLogger> {
  const name = await topics.create(label);
  const log = capturingLogger();
  const sink = kafkaSink.create(sinkConfig({ ...connection, topic: name, key: 'key' }));
  try {
    await sink.open(sinkContext({ log }));
    await writeAll(sink, rows(0, count));
  } finally {
    await sink.close();
  }
  const group = uniqueName(`${label}-g`);
  const reader = await openKafkaReader({ ...connection, topics: [name], group_id: group }, { log });
  try {
    const got = await readUntil(reader, (c) => c.records.length >= count);
    assert.deepEqual(
      got.records.map((r) => r.n as number).sort((a, b) => a - b),
      rows(0, count).map((r) => r.n),
      'every record written over the secured listener is read back over it, once',
    );
    await reader.commit!(reader.position());
  } finally {
    await reader.close();
  }
  const committed = await committedOffsets(group, name);
  assert.equal(
    [...committed.values()].reduce((a, b) => a + b, 0),
    count,
    'the group offsets were committed over the secured listener',
  );
  return log;
}

/**
 * Opens a sink and reads with a source over `connection` (topic `name`), both expected to fail
 * at once; returns both errors and the log they share.
 */
async function refusals(
  connection: Connection,
  name: string,
): Promise<{ errors: (readonly ['sink' | 'source', unknown])[]; log: CapturingLogger }> {
  const log = capturingLogger();
  const sink = kafkaSink.create(sinkConfig({ ...connection, topic: name }));
  const sinkErr = await sink.open(sinkContext({ log })).then(
    () => assert.fail('the sink opened a connection that should be refused'),
    (err: unknown) => err,
  );
  await sink.close();
  const reader = await openKafkaReader({ ...connection, topics: [name], group_id: uniqueName('g') }, { log });
  const sourceErr = await reader.read(10, new AbortController().signal).then(
    () => assert.fail('the source read over a connection that should be refused'),
    (err: unknown) => err,
  );
  await reader.close();
  return {
    errors: [
      ['sink', sinkErr],
      ['source', sourceErr],
    ],
    log,
  };
}

/** Asserts `err` is CONFIG_INVALID at `path` with a message matching `message`. */
function assertConfigInvalid(who: string, err: unknown, path: string, message: RegExp): void {
  const e = err as Error & { code?: string; path?: string };
  assert.deepEqual({ code: e.code, path: e.path }, { code: 'CONFIG_INVALID', path }, who);
  assert.match(e.message, message, who);
}

/** Everything a thrown error and a log hold, as text: message, stack, causes, fields. */
const errorText = (err: unknown) => inspect(err, { depth: 20 });
const logText = (log: CapturingLogger) =>
  log.lines.map((l) => `${l.level} ${l.message} ${inspect(l.fields, { depth: 20 })}`).join('\n');

/** Asserts no secret (nor any line of a PEM secret) occurs in `text`. */
function assertNoSecret(where: string, text: string, secrets: readonly string[]): void {
  for (const secret of secrets) {
    const parts = secret.includes('-----BEGIN')
      ? secret.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'))
      : [secret];
    for (const part of parts) assert.ok(!text.includes(part), `${where} contains a secret`);
  }
}

describe('kafka source and sink over SASL and TLS (real listeners)', { skip: !available }, () => {
  for (const { listener, mechanism, title, label } of SASL_CASES) {
    test(`${title}: the sink writes, the source reads and commits`, async () => {
      const log = await roundTrip(sasl(mechanism, listener), label);
      assertNoSecret('the log', logText(log), [SASL_USERS[mechanism].password]);
    });
  }

  test('TLS verified with the generated CA: the sink writes, the source reads and commits', async () => {
    await roundTrip({ brokers: [TLS_BROKER], tls: { ca: tls!.ca } }, 'tls');
  });

  test('mutual TLS: the client certificate and key reach every connection', async () => {
    const log = await roundTrip(
      { brokers: [MTLS_BROKER], tls: { ca: tls!.ca, cert: tls!.cert, key: tls!.key } },
      'mtls',
    );
    assertNoSecret('the log', logText(log), [tls!.keyPem]);
    // The listener does require the certificate: without it the broker closes the connection.
    const name = await topics.create('mtls-nocert', 1);
    const without = kafkaSink.create(
      sinkConfig({ brokers: [MTLS_BROKER], tls: { ca: tls!.ca }, topic: name, retry: { max_attempts: 1 } }),
    );
    await assert.rejects(without.open(sinkContext()), { code: 'SINK_UNAVAILABLE' });
    await without.close();
  });

  test('exactly-once over SCRAM-SHA-512: the transaction a restored checkpoint prepared is committed with the credentials', async () => {
    const name = await topics.create('sasl-eos', 2);
    const connection = sasl('SCRAM-SHA-512');
    const config = sinkConfig({
      ...connection,
      topic: name,
      delivery: 'exactly_once',
      transactional_id: uniqueName('txn'),
    });
    const first = kafkaSink.create(config);
    await first.open(sinkContext());
    await writeAll(first, rows(0, 120));
    const prepared = (await first.prepareCommit!(1)) as KafkaSinkState;
    assert.equal(prepared.prepared?.records, 120);
    // The job "crashes" after the checkpoint is durable, before commit(1): the next incarnation
    // commits the prepared transaction through its own coordinator connection.
    const log = capturingLogger();
    const second = kafkaSink.create(config);
    await second.open(sinkContext({ restored: prepared, log }));
    assert.ok(
      log.lines.some((l) => /committed the transaction the restored checkpoint prepared/.test(l.message)),
    );
    await writeAll(second, rows(120, 150));
    await second.prepareCommit!(2);
    await second.commit!(2);
    await second.close();
    await first.close();
    const reader = await openKafkaReader(
      { ...connection, topics: [name], group_id: uniqueName('eos-g'), isolation_level: 'read_committed' },
      {},
    );
    try {
      const got = await readUntil(reader, (c) => c.records.length >= 150);
      assert.deepEqual(
        got.records.map((r) => r.n as number).sort((a, b) => a - b),
        rows(0, 150).map((r) => r.n),
      );
    } finally {
      await reader.close();
    }
  });

  for (const { listener, mechanism, title, label } of SASL_CASES) {
    test(`${title}, wrong password: CONFIG_INVALID naming the authentication failure, no secret in errors or logs`, async () => {
      const wrong = `wrong-${mechanism.toLowerCase()}-password-x7`;
      const secrets = [wrong, SASL_USERS[mechanism].password];
      const name = await topics.create(`${label}-wrong`, 1);
      const { errors, log } = await refusals(sasl(mechanism, listener, wrong), name);
      for (const [who, err] of errors) {
        assertConfigInvalid(who, err, 'sasl', /SASL_AUTHENTICATION_FAILED|SASL authentication failed/);
        assertNoSecret(`the ${who} error`, errorText(err), secrets);
      }
      assertNoSecret('the log', logText(log), secrets);
    });
  }

  /**
   * A TLS listener reached without the CA, then without `tls`, then with verification off: on
   * SSL with a client certificate and key (the secret is the key), and on SASL_SSL (the password).
   */
  const NO_CA_CASES: {
    title: string;
    label: string;
    secret: string;
    connection: () => Connection;
    /** The same listener without `tls` at all: where the error points, and what it says. */
    withoutTls?: { connection: () => Connection; path: string; message: RegExp };
    secrets: () => string[];
  }[] = [
    {
      title: 'TLS',
      label: 'tls-noca',
      secret: 'key',
      // The client certificate and key are given, the CA is not: the broker's certificate fails.
      connection: () => ({ brokers: [MTLS_BROKER], tls: { cert: tls!.cert, key: tls!.key } }),
      // Without `tls` at all: the TLS listener's answer is recognized.
      withoutTls: { connection: () => ({ brokers: [TLS_BROKER] }), path: 'tls', message: /expects TLS/ },
      secrets: () => [tls!.keyPem],
    },
    {
      title: 'SASL_SSL',
      label: 'sasl-ssl-noca',
      secret: 'password',
      connection: () => ({ ...sasl('SCRAM-SHA-512', 'SASL_SSL'), tls: {} }),
      // Without `tls`: the listener closes the plaintext SASL handshake, which the client library
      // reports as a SASL failure; the error names `sasl` and says to set tls.
      withoutTls: {
        connection: () => ({ brokers: [SASL_SSL_BROKER], sasl: sasl('SCRAM-SHA-512').sasl }),
        path: 'sasl',
        message: /SASL handshake: if the listener is SASL_SSL, set tls/,
      },
      secrets: () => [SASL_USERS['SCRAM-SHA-512'].password],
    },
  ];

  for (const c of NO_CA_CASES) {
    test(`${c.title} without the CA (reject_unauthorized by default) is refused with CONFIG_INVALID at tls.ca, without tls at all at ${c.withoutTls?.path}; no ${c.secret} in errors or logs`, async () => {
      const name = await topics.create(c.label, 1);
      const connection = c.connection();
      const secrets = c.secrets();

      const noCa = await refusals(connection, name);
      for (const [who, err] of noCa.errors) {
        assertConfigInvalid(who, err, 'tls.ca', /certificate/);
        assert.match((err as Error).message, /tls\.ca/, who);
        assertNoSecret(`the ${who} error`, errorText(err), secrets);
      }
      assertNoSecret('the log', logText(noCa.log), secrets);

      if (c.withoutTls) {
        const { connection: plain, path, message } = c.withoutTls;
        const noTls = await refusals(plain(), name);
        for (const [who, err] of noTls.errors) {
          assertConfigInvalid(who, err, path, message);
          assertNoSecret(`the ${who} error`, errorText(err), secrets);
        }
        assertNoSecret('the log', logText(noTls.log), secrets);
      }

      // Verification off (for testing only): the same connection is accepted.
      const unchecked = kafkaSink.create(
        sinkConfig({ ...connection, tls: { ...connection.tls, reject_unauthorized: false }, topic: name }),
      );
      try {
        await unchecked.open(sinkContext());
      } finally {
        await unchecked.close();
      }
    });
  }
});
