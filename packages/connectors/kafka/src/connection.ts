/**
 * Connection options shared by the Kafka source and sink: brokers, client id, TLS and SASL.
 *
 * Secrets (`sasl.password`, TLS keys) are marked `secret: true`: they are redacted from logs and
 * never appear in error messages.
 */

import Type, { type Static } from 'typebox';

export const tlsOptions = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Connect with TLS.', default: true }),
    ca: Type.Optional(
      Type.String({
        description:
          'PEM file of the certificate authorities to trust (the ones that signed the brokers’ certificates); ' +
          'without it, Node.js’s built-in public CAs.',
      }),
    ),
    cert: Type.Optional(Type.String({ description: 'PEM file of the client certificate (mutual TLS).' })),
    key: Type.Optional(
      Type.String({ description: 'PEM file of the client key (mutual TLS).', secret: true }),
    ),
    reject_unauthorized: Type.Boolean({
      description: 'Refuse brokers whose certificate does not verify. Turn off only for testing.',
      default: true,
    }),
  },
  {
    additionalProperties: false,
    description:
      'TLS settings; omit for plaintext. A broker certificate that does not verify, or a listener that ' +
      'expects TLS when `tls` is omitted, fails the job with CONFIG_INVALID (no retry).',
  },
);

export const saslOptions = Type.Object(
  {
    mechanism: Type.Union(
      [Type.Literal('PLAIN'), Type.Literal('SCRAM-SHA-256'), Type.Literal('SCRAM-SHA-512')],
      {
        description: 'SASL mechanism.',
      },
    ),
    username: Type.String({ description: 'SASL user name.' }),
    password: Type.String({ description: 'SASL password.', secret: true }),
  },
  {
    additionalProperties: false,
    description:
      'SASL authentication; omit for none. With `tls` too it is SASL_SSL. Wrong credentials or a mechanism ' +
      'the listener does not enable fail the job with CONFIG_INVALID (no retry).',
  },
);

/** Fields every Kafka component has. */
export const connectionFields = {
  brokers: Type.Array(Type.String(), {
    description: 'Bootstrap brokers, host:port.',
    default: ['127.0.0.1:9092'],
    minItems: 1,
  }),
  client_id: Type.String({
    description: 'Client id sent to the brokers (shows in broker logs and quotas).',
    default: 'sluice',
  }),
  tls: Type.Optional(tlsOptions),
  sasl: Type.Optional(saslOptions),
};

export type TlsOptions = Static<typeof tlsOptions>;
export type SaslOptions = Static<typeof saslOptions>;
