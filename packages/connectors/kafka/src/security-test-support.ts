/**
 * The broker's test-only security listeners (`scripts/services.sh`, whose header lists them):
 * SASL_PLAINTEXT with PLAIN and SCRAM users, SSL with a generated CA, and SSL that requires a
 * client certificate. The reachability check skips (or, under CI, fails) like `kafkaAvailable`.
 *
 * Not part of the package's public surface.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KAFKA_HOST, kafkaAvailable, portOpen, REPO_ROOT, reportMissingService } from './test-support.ts';

/** SASL_PLAINTEXT listener: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. */
export const SASL_BROKER = `${KAFKA_HOST}:9094`;
/** SSL listener: the broker's certificate is signed by the generated CA. */
export const TLS_BROKER = `${KAFKA_HOST}:9095`;
/** SSL listener that requires a client certificate signed by the generated CA. */
export const MTLS_BROKER = `${KAFKA_HOST}:9096`;
/** SASL_SSL listener: the users of `SASL_BROKER` over the TLS of `TLS_BROKER`. */
export const SASL_SSL_BROKER = `${KAFKA_HOST}:9097`;

export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

/** The test users of `scripts/services.sh`: one user, a password per mechanism. */
export const SASL_USERS: { readonly [m in SaslMechanism]: { username: string; password: string } } = {
  PLAIN: { username: 'sluice', password: 'sluice-plain-secret' },
  'SCRAM-SHA-256': { username: 'sluice', password: 'sluice-sha256-secret' },
  'SCRAM-SHA-512': { username: 'sluice', password: 'sluice-sha512-secret' },
};

/** Paths of the generated TLS files (`scripts/services.sh kafka-tls` prints their folder). */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
  /** The client key's PEM text, to check it never shows in errors or logs. */
  keyPem: string;
}

export function tlsFiles(): TlsFiles {
  const dir = execFileSync('bash', ['scripts/services.sh', 'kafka-tls'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  }).trim();
  const key = join(dir, 'client-key.pem');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key, keyPem: readFileSync(key, 'utf8') };
}

/**
 * Whether the broker and its three security listeners answer. When one does not, prints why the
 * tests are skipped and returns false — except under CI, where it throws (`reportMissingService`).
 */
export async function securityListenersAvailable(): Promise<boolean> {
  if (!(await kafkaAvailable())) return false;
  for (const address of [SASL_BROKER, TLS_BROKER, MTLS_BROKER, SASL_SSL_BROKER]) {
    if (await portOpen(address)) continue;
    reportMissingService(
      `kafka security listener not reachable at ${address} (scripts/services.sh up kafka restarts an older broker with it)`,
    );
    return false;
  }
  return true;
}
