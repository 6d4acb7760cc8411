/**
 * A sandbox's servers on a port that another process took after it was found free (as an
 * outgoing connection's ephemeral port can): each start sees its own bind fail and runs again on
 * a fresh port. CI once lost a whole test file to a PgBouncer that did not start this way.
 */
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findPgBin, findPgBouncer } from '../../src/sandbox/binaries.js';
import { launchNodeOnFreePort, launchPgBouncer } from '../../src/sandbox/control.js';
import { pgbouncerIni } from '../../src/sandbox/files.js';
import { startHaproxy, stopHaproxy } from '../../src/sandbox/haproxy.js';
import { onFreePort, PortTakenError } from '../../src/sandbox/ports.js';
import { run } from '../../src/shell/exec.js';
import { findOsUser, isRoot, runAsIdentity } from '../../src/shell/os-user.js';
import { readPidFile, stopProcesses } from '../../src/shell/processes.js';

const osUser = isRoot() ? 'postgres' : undefined;
const identity = runAsIdentity(osUser, 'test');
let dir: string;
let taken: Server;
let takenPort: number;
const pids: number[] = [];

const listens = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(true)).on('error', () => resolve(false));
    socket.once('connect', () => socket.destroy());
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgh-ports-'));
  if (osUser) await chown(dir, findOsUser(osUser)!.uid, findOsUser(osUser)!.gid);
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as { port: number }).port;
});

afterAll(async () => {
  await stopProcesses(pids, 'SIGTERM', 5000);
  taken.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a port taken between choosing and binding', () => {
  test('PgBouncer: its log says so, and it runs on a fresh port', async () => {
    const pooler = {
      name: 'pgbouncer',
      configFile: join(dir, 'pgbouncer.ini'),
      pidFile: join(dir, 'pgbouncer.pid'),
      logFile: join(dir, 'pgbouncer.log'),
    };
    const tried: number[] = [];
    const port = await onFreePort(takenPort, async (p) => {
      tried.push(p);
      await writeFile(pooler.configFile, pgbouncerIni({ dir, port: p, primaryPort: 1 }));
      await writeFile(join(dir, 'userlist.txt'), '');
      if (osUser)
        for (const f of [pooler.configFile, join(dir, 'userlist.txt')])
          await chown(f, findOsUser(osUser)!.uid, findOsUser(osUser)!.gid);
      await launchPgBouncer(findPgBouncer(), pooler, identity);
      return p;
    });
    pids.push(readPidFile(pooler.pidFile)!);
    expect(tried[0]).toBe(takenPort);
    expect(port).not.toBe(takenPort);
    expect(await listens(port)).toBe(true);
  });

  test('HAProxy: its stderr says so, and it runs on a fresh port', async () => {
    const node = { name: 'pg1', port: 1, dataDir: dir, logFile: join(dir, 'x.log') };
    const h = await startHaproxy(dir, takenPort, [node], 'pg1');
    try {
      expect(h.port).not.toBe(takenPort);
      expect(await listens(h.port)).toBe(true);
    } finally {
      await stopHaproxy(h);
    }
  });

  test('PostgreSQL: a node whose port is taken starts on a fresh one, its config saying so', async () => {
    const pgBin = findPgBin();
    const dataDir = join(dir, 'pg1');
    const init = await run(
      [join(pgBin, 'initdb'), '-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '--no-instructions'],
      { ...identity, timeoutMs: 60_000 },
    );
    expect(init.ok, init.stderr).toBe(true);
    const conf = join(dataDir, 'postgresql.conf');
    await writeFile(conf, `listen_addresses = '127.0.0.1'\nport = ${takenPort}\nunix_socket_directories = '${dir}'\n`, {
      flag: 'a',
    });
    const node = { name: 'pg1', port: takenPort, dataDir, logFile: join(dir, 'pg1.log') };
    const started = await launchNodeOnFreePort(pgBin, node, identity, conf);
    pids.push(readPidFile(join(dataDir, 'postmaster.pid'))!);
    expect(started.port).not.toBe(takenPort);
    expect(await listens(started.port)).toBe(true);
  });

  test('any other failure is not retried', async () => {
    let calls = 0;
    await expect(
      onFreePort(takenPort, async () => {
        calls++;
        throw new Error('not a port');
      }),
    ).rejects.toThrow('not a port');
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      onFreePort(
        takenPort,
        async () => {
          calls++;
          throw new PortTakenError('always');
        },
        3,
      ),
    ).rejects.toThrow('always');
    expect(calls).toBe(3);
  });
});
