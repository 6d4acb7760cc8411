/**
 * Every fault leaves the cluster in a defined, safe state. Each case checks the invariants:
 * one writer (pooler on it, or paused and said so), no acknowledged commit lost, exit code and
 * last lines that say the state, and a second run that completes or refuses clearly.
 */
import { postmasterPid, pgbouncerPid, startNode, startPgBouncer } from '../../src/sandbox/control.js';
import { signal, waitGone } from '../../src/shell/processes.js';
import { nodeConn, settledTopology, sql, underLoad, waitUntilPrimary, waitUntilStreaming } from './support/cluster.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  consoleCutter,
  execStep,
  expectLastLinesSay,
  expectOneWriter,
  guardianPid,
  pauseHere,
  playbookWith,
  signalAtInjectedStep,
  startPromote,
  stepStarted,
  waitForJournal,
} from './support/faults.js';
import { describe, expect, test } from './support/fixtures.js';

const SECOND_RUN_OK = /SWITCHOVER SUCCEEDED/;

describe('faults before the point of no return roll back', () => {
  test("target's postmaster killed during catch-up: rollback, the old primary keeps serving", async ({ sandbox }) => {
    const pg2 = postmasterPid(sandbox.manifest, 'pg2')!;
    const playbook = await playbookWith(sandbox, 'kill-target', 'fence-writes', execStep('kill', '-KILL', pg2), {
      'wait-catchup': 'timeout: 2s',
    });
    const { value: run, load } = await underLoad(sandbox, () =>
      startPromote(sandbox, '--playbook', playbook, '--target', 'pg2'),
    );
    expect(run.exitCode, String(run.stderr)).toBe(4);
    expectLastLinesSay(String(run.stderr), /FAILED AND ROLLED BACK: the old primary is still the primary/, 4);
    expect(await expectOneWriter(sandbox)).toBe('pg1');
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });

    await waitUntilStreaming(sandbox, 'pg3', 'pg1');
    const again = await startPromote(sandbox);
    expect(again.exitCode, String(again.stderr)).toBe(0);
    expect(String(again.stderr)).toMatch(
      /pg2 was unreachable: once it is back, `pg-handover rejoin pg2` makes it stream from pg3 \(its slot there included\)/,
    );
    expect(await expectOneWriter(sandbox)).toBe('pg3');
  });

  test('target never catches up (replay paused): timeout, rollback; the second run succeeds', async ({ sandbox }) => {
    const playbook = await playbookWith(
      sandbox,
      'stuck',
      'checkpoint',
      ['- kind: sql', '  node: target', '  sql: SELECT pg_wal_replay_pause()'],
      { 'wait-catchup': 'timeout: 1s' },
    );
    const { value: run, load } = await underLoad(sandbox, () =>
      startPromote(sandbox, '--playbook', playbook, '--target', 'pg2'),
    );
    expect(run.exitCode).toBe(4);
    expectLastLinesSay(String(run.stderr), /did not happen within 1000 ms/, 4);
    expect(await expectOneWriter(sandbox)).toBe('pg1');
    expect(load.missing).toBe(0);
    await sql(nodeConn(sandbox, 'pg2'), 'SELECT pg_wal_replay_resume()');
    const again = await startPromote(sandbox, '--target', 'pg2');
    expectLastLinesSay(String(again.stderr), SECOND_RUN_OK, 0);
    expect(await expectOneWriter(sandbox)).toBe('pg2');
  });

  test('old primary hangs (SIGSTOP) during the switchover: never promotes, never resumes clients onto it, says failover may be needed', async ({
    sandbox,
  }) => {
    const pg1 = postmasterPid(sandbox.manifest, 'pg1')!;
    const playbook = await playbookWith(sandbox, 'hang', 'checkpoint', execStep('kill', '-STOP', pg1), {
      'fence-writes': 'pause_timeout: 2s\nstop_timeout: 2s',
    });
    const {
      value: { run, undo },
      load,
    } = await underLoad(sandbox, async () => {
      const result = await startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
      const t = await settledTopology(sandbox, 0);
      expect(t.primaries.filter((p) => p !== 'pg1')).toEqual([]); // nobody was promoted
      expect(t.poolerPaused).toBe(true); // clients wait rather than reach a server that cannot answer
      signal(pg1, 'SIGCONT');
      // The shutdown requested while it hung completes now. Start it again to serve.
      if (await waitGone([pg1], 5000)) await startNode(sandbox.manifest, 'pg1');
      // Once it is back, the next run undoes the half-done switchover: clients resume on pg1.
      return { run: result, undo: await startPromote(sandbox, '--target', 'pg2') };
    });
    expect(run.exitCode).toBe(5);
    expectLastLinesSay(
      String(run.stderr),
      /FAILED, AND THE ROLLBACK DID NOT RESTORE SERVICE[\s\S]*use the failover procedure/,
      5,
    );
    expect(String(run.stderr)).toMatch(
      /pg1 cannot be restarted: .*did not exit, even after an immediate shutdown request \(hung\?\)/,
    );
    expectLastLinesSay(String(undo.stderr), /UNDID THE HALF-DONE SWITCHOVER/, 4);
    expect(await expectOneWriter(sandbox)).toBe('pg1');
    expect(load.missing).toBe(0);
    // The run after that switches over.
    await waitUntilStreaming(sandbox, 'pg2', 'pg1');
    const again = await startPromote(sandbox, '--target', 'pg2');
    expectLastLinesSay(String(again.stderr), SECOND_RUN_OK, 0);
  });

  test('PgBouncer killed before the fence: stops before promotion, exit 5: the pooler needs attention', async ({
    sandbox,
  }) => {
    const playbook = await playbookWith(
      sandbox,
      'kill-pooler-early',
      'checkpoint',
      execStep('kill', '-KILL', pgbouncerPid(sandbox.manifest)!),
    );
    const run = await startPromote(sandbox, '--playbook', playbook);
    // pg1 is still the primary, but no pooler serves it: that is not a verified rollback.
    expect(run.exitCode).toBe(5);
    expectLastLinesSay(
      String(run.stderr),
      /verified now: +pg1 is the only writable primary; pgbouncer unreachable[\s\S]*undo of "fence writes.*" failed/,
      5,
    );
    await startPgBouncer(sandbox.manifest);
    expect(await expectOneWriter(sandbox)).toBe('pg1');
    const again = await startPromote(sandbox);
    expectLastLinesSay(String(again.stderr), SECOND_RUN_OK, 0);
  });
});

describe('faults at or after the point of no return roll forward', () => {
  test('promotion does not finish in time (target SIGSTOPped): no two primaries, exact report, the next run finishes', async ({
    sandbox,
  }) => {
    const pg2 = postmasterPid(sandbox.manifest, 'pg2')!;
    const playbook = await playbookWith(sandbox, 'slow-promote', 'wait-catchup', execStep('kill', '-STOP', pg2), {
      promote: 'timeout: 2s',
    });
    const { load } = await underLoad(sandbox, async () => {
      const run = await startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
      expect(run.exitCode).toBe(5);
      const stderr = String(run.stderr);
      expectLastLinesSay(stderr, /FAILED AFTER THE POINT OF NO RETURN/, 5);
      expect(stderr).toMatch(/promotion of pg2 was requested but not confirmed/);
      expect(stderr).toMatch(/clients are queued on pgbouncer \(paused, pointing at pg1\)/);
      expect(await expectOneWriter(sandbox, { allowPaused: true })).toBeUndefined();
      signal(pg2, 'SIGCONT');
      await waitUntilPrimary(sandbox, 'pg2');
      const again = await startPromote(sandbox);
      expectLastLinesSay(String(again.stderr), /SWITCHOVER SUCCEEDED[\s\S]*recovered: +run .* \(finished it\)/, 0);
    });
    expect(await expectOneWriter(sandbox)).toBe('pg2');
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
    expect((await settledTopology(sandbox)).upstreamOf).toEqual({ pg1: 'pg2', pg3: 'pg2' });
  });

  test('PgBouncer killed after promotion: reports exactly what is left; once it is back, the next run finishes', async ({
    sandbox,
  }) => {
    const playbook = await playbookWith(
      sandbox,
      'kill-pooler-late',
      'promote',
      execStep('kill', '-KILL', pgbouncerPid(sandbox.manifest)!),
    );
    const run = await startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
    expect(run.exitCode).toBe(5);
    expectLastLinesSay(
      String(run.stderr),
      /config file already points at pg2, but its admin console is unreachable/,
      5,
    );
    await startPgBouncer(sandbox.manifest);
    // Back, PgBouncer already points at pg2 (its file was rewritten before the kill): the run's goal
    // is met, so the next run closes its record (and starts no second switchover).
    const again = await startPromote(sandbox);
    expect(again.exitCode, String(again.stderr)).toBe(0);
    expect(String(again.stderr)).toMatch(
      /half-done-closed +run \S+ of the switchover procedure did not finish, but its goal is met/,
    );
    expect(String(again.stderr)).toMatch(
      /NOTHING TO DO: run \S+ had reached its goal \(pg2 is the only writable primary, every router sends clients to it unpaused/,
    );
    expect(await expectOneWriter(sandbox)).toBe('pg2');
    expect((await settledTopology(sandbox)).upstreamOf).toEqual({ pg1: 'pg2', pg3: 'pg2' });
  });
});

describe('PgBouncer dies under the repoint', () => {
  // CI, 596e75d: PgBouncer SIGKILLed just before the repoint, and the RELOAD went out on the console
  // the run held before that console had noticed: "Connection terminated unexpectedly", without
  // the line that says the file already points at the new primary. The cutter makes that order sure.
  test('its console drops as RELOAD is sent: said as unreachable, the file already at pg2 (exit 5); the next run closes the record', async ({
    sandbox,
  }) => {
    const pooler = sandbox.manifest.poolers[0]!;
    const armed = join(sandbox.dir, 'console-cut');
    const cutter = await consoleCutter(pooler.port, armed);
    const inventory = await readFile(sandbox.manifest.inventoryFile, 'utf8');
    const adminAt = (port: number) => `port=${port} user=pgbadmin dbname=pgbouncer`;
    expect(inventory).toContain(adminAt(pooler.port));
    const passfile = await readFile(sandbox.manifest.passfile, 'utf8');
    const adminPassword = passfile
      .split('\n')
      .find((l) => l.startsWith(`127.0.0.1:${pooler.port}:pgbouncer:pgbadmin:`))!;
    try {
      await writeFile(sandbox.manifest.inventoryFile, inventory.replace(adminAt(pooler.port), adminAt(cutter.port)));
      await writeFile(
        sandbox.manifest.passfile,
        `${passfile.trimEnd()}\n${adminPassword.replace(`:${pooler.port}:`, `:${cutter.port}:`)}\n`,
        { mode: 0o600 },
      );
      const playbook = await playbookWith(
        sandbox,
        'kill-pooler-under-reload',
        'promote',
        execStep('sh', '-c', `touch ${armed} && kill -KILL ${pgbouncerPid(sandbox.manifest)!}`),
      );
      const run = await startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
      expect(cutter.cut(), String(run.stderr)).toBe(true);
      expect(run.exitCode, String(run.stderr)).toBe(5);
      expectLastLinesSay(
        String(run.stderr),
        /config file already points at pg2, but its admin console is unreachable/,
        5,
      );
    } finally {
      await cutter.close();
      await writeFile(sandbox.manifest.inventoryFile, inventory);
      await writeFile(sandbox.manifest.passfile, passfile, { mode: 0o600 });
    }
    await startPgBouncer(sandbox.manifest);
    const again = await startPromote(sandbox);
    expect(again.exitCode, String(again.stderr)).toBe(0);
    expect(String(again.stderr)).toMatch(
      /half-done-closed +run \S+ of the switchover procedure did not finish, but its goal is met/,
    );
    expect(await expectOneWriter(sandbox)).toBe('pg2');
  });
});

describe('the new primary dies after the clients were released', () => {
  // Soak seed 20261210 (iterations 154, 209, 354, 416): the switchover's target SIGKILLed once the
  // clients were released; the run waited out the follow timeout (60 s) for a stream that could
  // not come, and only then said so (exit 5). It now asks the new primary while it waits.
  test('the run says so within seconds, naming the new primary (exit 5), not after the follow timeout', async ({
    sandbox,
  }) => {
    const pg2 = sandbox.manifest.nodes.find((n) => n.name === 'pg2')!;
    const pg3 = postmasterPid(sandbox.manifest, 'pg3')!;
    // pg3's postmaster frozen: it does not act on the reload that points it at pg2, so the follow
    // step is still waiting for it to stream when pg2 is SIGKILLed a second later.
    const playbook = await playbookWith(
      sandbox,
      'target-dies-while-waited-for',
      'resume',
      execStep(
        'sh',
        '-c',
        `kill -STOP ${pg3}; (sleep 1; kill -KILL $(head -n 1 ${pg2.dataDir}/postmaster.pid)) >/dev/null 2>&1 &`,
      ),
      { follow: 'timeout: 60s' },
    );
    try {
      const run = await startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
      expect(run.exitCode, String(run.stderr)).toBe(5);
      expect(String(run.stderr)).toMatch(/pg2, the new primary, stopped answering while pg3 waited to stream from it/);
      expect(String(run.stderr)).not.toMatch(/did not happen within 60000 ms/);
    } finally {
      signal(pg3, 'SIGCONT');
    }
  });
});

describe('interrupts and a killed tool', () => {
  const cases: Array<[string, string, number, RegExp]> = [
    ['before the fence', 'checkpoint', 6, /INTERRUPTED AND ROLLED BACK/],
    ['after the fence, before catch-up', 'fence-writes', 6, /INTERRUPTED AND ROLLED BACK/],
    ['after catch-up, before promotion', 'wait-catchup', 6, /INTERRUPTED AND ROLLED BACK/],
    ['after promotion', 'promote', 0, /SWITCHOVER SUCCEEDED/],
  ];
  test.for(cases)('Ctrl-C %s', async ([, afterKind, exitCode, headline], { sandbox }) => {
    const playbook = await playbookWith(sandbox, 'sigint', afterKind, pauseHere(4));
    const { value: run, load } = await underLoad(sandbox, () => signalAtInjectedStep(sandbox, playbook, 'SIGINT'));
    expect(run.exitCode).toBe(exitCode);
    expectLastLinesSay(String(run.stderr), headline, exitCode);
    expect(await expectOneWriter(sandbox)).toBe(exitCode === 0 ? 'pg2' : 'pg1');
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
  });

  test('the tool and its guardian SIGKILLed after the fence (the machine it ran on died): the next run undoes the fence', async ({
    sandbox,
  }) => {
    const playbook = await playbookWith(sandbox, 'sigkill-early', 'fence-writes', pauseHere(10));
    const { value: again, load } = await underLoad(sandbox, async () => {
      await signalAtInjectedStep(sandbox, playbook, 'SIGKILL', () => signal(guardianPid(sandbox)!, 'SIGKILL'));
      expect(await expectOneWriter(sandbox, { allowPaused: true })).toBeUndefined();
      return startPromote(sandbox);
    });
    expect(again.exitCode).toBe(4);
    expectLastLinesSay(String(again.stderr), /recovered: +run .* \(undid its fence\)/, 4);
    expect(await expectOneWriter(sandbox)).toBe('pg1');
    expect(load.missing).toBe(0);
    const third = await startPromote(sandbox);
    expectLastLinesSay(String(third.stderr), SECOND_RUN_OK, 0);
  });

  test('the tool and its guardian SIGKILLed after promotion: the next run recognises it and finishes', async ({
    sandbox,
  }) => {
    const playbook = await playbookWith(sandbox, 'sigkill-late', 'promote', pauseHere(10));
    const { value: again, load } = await underLoad(sandbox, async () => {
      await signalAtInjectedStep(sandbox, playbook, 'SIGKILL', () => signal(guardianPid(sandbox)!, 'SIGKILL'));
      return startPromote(sandbox);
    });
    expect(again.exitCode, String(again.stderr)).toBe(0);
    expectLastLinesSay(String(again.stderr), /recovered: +run .* \(finished it\)/, 0);
    expect(await expectOneWriter(sandbox)).toBe('pg2');
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
  });
});

describe('concurrency and flaky networks', () => {
  test('a second concurrent promote is refused while the first holds the lock', async ({ sandbox }) => {
    const playbook = await playbookWith(sandbox, 'slow', 'preflight', pauseHere(3));
    const first = startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
    await waitForJournal(sandbox, stepStarted('-exec'));
    const second = await startPromote(sandbox, '--target', 'pg3');
    expect(second.exitCode).toBe(3);
    expect(String(second.stderr)).toMatch(
      /no-other-run: another pg-handover run holds the cluster lock: "pg-handover run \S+ pid \d+"/,
    );
    expect((await first).exitCode).toBe(0);
    expect(await expectOneWriter(sandbox)).toBe('pg2');
  });

  test('a dropped connection to the target is retried, not fatal', async ({ sandbox }) => {
    const pg2 = sandbox.inventory.nodes[1]!.conn;
    const dsn = `host=${pg2.host} port=${pg2.port} user=${pg2.user} dbname=postgres passfile=${sandbox.manifest.passfile}`;
    const drop = execStep(
      'psql',
      dsn,
      '-Atc',
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'pg-handover run%'",
    );
    const playbook = await playbookWith(sandbox, 'blip', 'fence-writes', drop);
    const { value: run, load } = await underLoad(sandbox, () =>
      startPromote(sandbox, '--playbook', playbook, '--target', 'pg2'),
    );
    expect(run.exitCode, String(run.stderr)).toBe(0);
    expect(await expectOneWriter(sandbox)).toBe('pg2');
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
  });
});
