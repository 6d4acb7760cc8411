/**
 * A pooler witness whose answer is no longer needed (the pooler's own console answered first)
 * closes its login at once. Through a PgBouncer whose server is dead, the login itself waits (the
 * pool has no server connection to take its welcome from), and left to its deadline it kept every
 * failover of a dead primary alive about 2 s after its work was done (seen with strace on a dry run:
 * 2.9 s, 1.1 s once cut). The stand-in accepts the login's TCP connection and never answers.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { witnessThrough } from '../../src/routers/app-login.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

/** Accepts connections, answers nothing; resolves each connection's close. */
async function silentPooler(): Promise<{ port: number; closed: Promise<number> }> {
  let opened = 0;
  let resolveClosed: (ms: number) => void = () => undefined;
  const closed = new Promise<number>((resolve) => (resolveClosed = resolve));
  server = createServer((socket: Socket) => {
    opened = performance.now();
    socket.on('data', (data) => {
      // libpq's SSLRequest: no TLS here; the startup packet that follows is never answered.
      if (data.length >= 8 && data.readInt32BE(4) === 80877103) socket.write('N');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolveClosed(performance.now() - opened));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, closed };
}

describe('a pooler witness no longer needed', () => {
  it('closes its waiting login when aborted, long before its deadline', async () => {
    const { port, closed } = await silentPooler();
    const stop = new AbortController();
    const app = { host: '127.0.0.1', port, user: 'app', dbname: 'appdb', password: 'x', extra: {} };
    const suspect = { name: 'pg1', host: '127.0.0.1', port: 1, addresses: ['127.0.0.1'] };
    const answer = witnessThrough('pgbouncer', app, suspect, 20_000, 'test', stop.signal);
    setTimeout(() => stop.abort(), 200);
    expect((await answer).verdict).toBe('unknown');
    // Closed within a few seconds of the abort, against a deadline of 20 s.
    expect(await closed).toBeLessThan(5_000);
  });
});
