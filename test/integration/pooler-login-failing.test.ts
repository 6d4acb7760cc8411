/**
 * The soak's bug 3 (seed 20261204, iteration 45): a failover had promoted, repointed and released,
 * and its verification login through the second PgBouncer was refused with "server login has been
 * failing, try again later (server_login_retry)", so a verified failover exited 5. PgBouncer says
 * this to a new client while its pool remembers a failed server login (the dead old primary's)
 * and has no server connection yet, and launches one for the next client (its check_fast_fail).
 * I could not make PgBouncer 1.18 say it on demand, so a stand-in pooler says exactly it (PgBouncer's
 * SQLSTATE and text) to the first logins and then forwards to the real primary, as PgBouncer does
 * once its new server connection is up. The verification login must retry that refusal for about
 * 1.5 s (a session's connect alone tries 3 times in 300 ms), a bounded number of times, and no other.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { appLoginProblems } from '../../src/routers/app-login.js';
import { appConn } from './support/cluster.js';
import { describe, expect, test } from './support/fixtures.js';

/** A PostgreSQL ErrorResponse, as PgBouncer sends its own refusals. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head.write('E');
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

const LOGIN_FAILING = errorResponse('08P01', 'server login has been failing, try again later (server_login_retry)');
const OTHER_REFUSAL = errorResponse('08P01', 'no more connections allowed (max_client_conn)');

/** Refuses the first `refusals` logins with `refusal`, then forwards every connection to `port`. */
async function standInPooler(
  port: number,
  refusals: number,
  refusal = LOGIN_FAILING,
): Promise<Server & { refused: number }> {
  let refused = 0;
  const server = createServer((client: Socket) => {
    client.on('error', () => undefined);
    if (refused >= refusals) {
      const upstream = connect(port, '127.0.0.1');
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
      return;
    }
    client.on('data', (data) => {
      const sslRequest = data.length >= 8 && data.readInt32BE(4) === 80877103;
      if (sslRequest) return void client.write('N');
      refused++;
      counted.refused = refused;
      client.end(refusal);
    });
  });
  const counted = Object.assign(server, { refused: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return counted;
}

describe('a pooler that remembers a failed server login', () => {
  test('the verification login retries "server login has been failing" (5 tries), bounded, and nothing else', async ({
    sandbox,
  }) => {
    const pg1 = sandbox.manifest.nodes.find((n) => n.name === 'pg1')!;
    const target = { name: 'pg1', host: '127.0.0.1', port: pg1.port, addresses: ['127.0.0.1'] };
    const through = async (pooler: Server) => {
      const app = { ...appConn(sandbox), host: '127.0.0.1', port: (pooler.address() as AddressInfo).port };
      try {
        return await appLoginProblems('pgbouncer', app, target, 'pg-handover-test');
      } finally {
        await new Promise((resolve) => pooler.close(resolve));
      }
    };
    // A session's own connect tries 3 times in 300 ms, which was not enough in the soak: refused
    // 6 times (about a second), the verification passes.
    expect(await through(await standInPooler(pg1.port, 6))).toEqual([]);
    // Any other refusal gets only the connect's own tries.
    const other = await standInPooler(pg1.port, Infinity, OTHER_REFUSAL);
    await expect(through(other)).rejects.toThrow(/max_client_conn/);
    const failing = await standInPooler(pg1.port, Infinity);
    await expect(through(failing)).rejects.toThrow(/server login has been failing/);
    expect(failing.refused).toBeGreaterThanOrEqual(5 * other.refused);
  });
});
