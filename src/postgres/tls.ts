/**
 * libpq's sslmode, for node-postgres, which knows only "TLS with these options" or "no TLS".
 * libpq tries TLS then plain text for `prefer` (its default) and the reverse for `allow`; here
 * each mode becomes the list of attempts to make in order. Pure, apart from the file reader.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { SSL_MODES } from '../inventory/dsn.js';

export type TlsAttempt = false | ConnectionOptions;

export function tlsAttempts(
  params: Readonly<Record<string, string>>,
  read: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): TlsAttempt[] {
  const mode = params.sslmode ?? 'prefer';
  const files: ConnectionOptions = {
    ...(params.sslrootcert ? { ca: read(params.sslrootcert) } : {}),
    ...(params.sslcert ? { cert: read(params.sslcert) } : {}),
    ...(params.sslkey ? { key: read(params.sslkey) } : {}),
  };
  const unverified: ConnectionOptions = { ...files, rejectUnauthorized: false };
  // verify-ca checks the chain but not the host name.
  const verifyCa: ConnectionOptions = { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  switch (mode) {
    case 'disable':
      return [false];
    case 'allow':
      return [false, unverified];
    case 'prefer':
      return [unverified, false];
    // libpq: require with a root certificate file behaves as verify-ca.
    case 'require':
      return [params.sslrootcert ? verifyCa : unverified];
    case 'verify-ca':
      return [verifyCa];
    case 'verify-full':
      return [{ ...files, rejectUnauthorized: true }];
    default:
      throw new Error(`sslmode: expected one of ${SSL_MODES.join(', ')}, got "${mode}"`);
  }
}

/** node-postgres's words when the server answers 'N' to SSLRequest. */
export const isNoTlsError = (error: unknown): boolean =>
  /does not support SSL/i.test((error as Error | undefined)?.message ?? '');
