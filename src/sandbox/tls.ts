/**
 * TLS for the sandbox (`sandbox up --tls`): a throwaway CA and one server certificate for
 * 127.0.0.1/localhost, made with openssl. The tool's own logins must then use TLS (pg_hba
 * rejects them otherwise), and its inventory asks for sslmode=verify-full against that CA.
 */
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { describeFailure, run } from '../shell/exec.js';
import { findOsUser } from '../shell/os-user.js';

export interface SandboxTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export async function makeCertificates(dir: string, osUser: string | undefined): Promise<SandboxTls> {
  await mkdir(dir, { mode: 0o700 });
  const file = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await writeFile(file('server.ext'), 'subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\n');
  for (const argv of [
    [
      'openssl',
      'req',
      '-x509',
      ...ec,
      '-days',
      '7',
      '-subj',
      '/CN=pg-handover sandbox CA',
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
    ],
    ['openssl', 'req', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', file('server.key'), '-out', file('server.csr')],
    [
      'openssl',
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '7',
      '-extfile',
      file('server.ext'),
      '-out',
      file('server.crt'),
    ],
  ]) {
    const result = await run(argv, { timeoutMs: 30_000 });
    if (!result.ok) throw new EnvironmentError(describeFailure('openssl (sandbox --tls)', result));
  }
  // PostgreSQL refuses a key others can read; it runs as osUser.
  await chmod(file('server.key'), 0o600);
  if (osUser) {
    const user = findOsUser(osUser)!;
    for (const path of [dir, file('server.key'), file('server.crt'), file('ca.crt')])
      await chown(path, user.uid, user.gid);
  }
  return { caFile: file('ca.crt'), certFile: file('server.crt'), keyFile: file('server.key') };
}

export const tlsConf = (tls: SandboxTls): string =>
  `ssl = on\nssl_cert_file = '${tls.certFile}'\nssl_key_file = '${tls.keyFile}'\n`;

/** The tool's user may log in only over TLS, so a test proves verify-full really ran. */
export const tlsHba = (superuser: string): string =>
  `hostnossl all  ${superuser}  127.0.0.1/32  reject\nhostssl   all  ${superuser}  127.0.0.1/32  scram-sha-256\n`;
