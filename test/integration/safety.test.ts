/**
 * The safety promises on faults the first suite did not inject (issue: "keep the safety promises
 * ... without a human"). Each case injects the fault for real and checks the invariants: at most
 * one writer at every observation, clients resumed only onto a writable primary, no acknowledged
 * commit lost, and a headline that matches the verified end state.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { postmasterPid } from '../../src/sandbox/control.js';
import { childrenOf, commandLine, isAlive, signal } from '../../src/shell/processes.js';
import { sleep } from '../../src/util/time.js';
import { appConn, nodeConn, observe, settledTopology, sql, topology, underLoad } from './support/cluster.js';
import {
  execStep,
  expectLastLinesSay,
  expectOneWriter,
  journalDir,
  journalEvents,
  pauseHere,
  playbookWith,
  reportInJournal,
  startPromote,
  stepStarted,
  waitForJournal,
} from './support/faults.js';
import { describe, expect, test } from './support/fixtures.js';

async function waitUntil(ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok() && Date.now() < deadline) await sleep(100);
}

/** Watches the cluster while `during` runs: never two writers, and never a resumed pooler on a non-writer. */
async function watched<T>(
  sandbox: Parameters<typeof observe>[0],
  during: () => Promise<T>,
): Promise<{ value: T; violations: string[] }> {
  const violations: string[] = [];
  let done = false;
  const watcher = (async () => {
    while (!done) {
      const t = topology(await observe(sandbox));
      const writers = t.primaries.filter((p) => !t.readOnly.includes(p));
      if (writers.length > 1) violations.push(`two writers: ${writers.join(', ')}`);
      if (!t.poolerPaused && t.poolerPointsAt && !writers.includes(t.poolerPointsAt) && t.primaries.length > 0) {
        violations.push(
          `pooler resumed onto ${t.poolerPointsAt}, which does not accept writes (writers: ${writers.join(', ') || 'none'})`,
        );
      }
      await sleep(100);
    }
  })();
  try {
    return { value: await during(), violations };
  } finally {
    done = true;
    await watcher;
  }
}

describe('never two writers, never none, never a false headline', () => {
  test("1. a second promote inside the first one's fence window is refused, from this machine and from another", async ({
    sandbox,
  }) => {
    const playbook = await playbookWith(sandbox, 'slow-fence', 'fence-writes', pauseHere(6));
    const { value, load } = await underLoad(sandbox, () =>
      watched(sandbox, async () => {
        const first = startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
        await waitForJournal(sandbox, stepStarted('-exec'));
        // pg1 is stopped now: its lock session is gone, but pg2's and pg3's hold.
        const [here, elsewhere] = await Promise.all([
          startPromote(sandbox, '--target', 'pg3'),
          startPromote(sandbox, '--target', 'pg3', '--journal-dir', join(sandbox.dir, 'other-machine')),
        ]);
        const refusedAt = Date.now();
        const firstRun = await first;
        // The premise: both were refused while the first run was still inside its pause.
        const pauseEnded = journalEvents(sandbox).find(
          (e) => e.event === 'step-end' && String(e.step).endsWith('-exec'),
        );
        expect(refusedAt).toBeLessThan(Date.parse(String(pauseEnded?.at)));
        return { first: firstRun, here, elsewhere };
      }),
    );
    expect(value.violations).toEqual([]);
    expect(value.value.here.exitCode).toBe(3);
    expect(String(value.value.here.stderr)).toMatch(/no-other-run: another pg-handover run/);
    expect(value.value.elsewhere.exitCode).toBe(3);
    expect(String(value.value.elsewhere.stderr)).toMatch(
      /no-other-run: another pg-handover run holds the cluster lock: "pg-handover run \S+ pid \d+"/,
    );
    expect(value.value.first.exitCode, String(value.value.first.stderr)).toBe(0);
    expect(await expectOneWriter(sandbox)).toBe('pg2');
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
  });

  test('2. a replica cut off (walreceiver SIGSTOPped) makes the shutdown outlast stop_timeout: the run does not wait for it', async ({
    sandbox,
  }) => {
    const pg3 = postmasterPid(sandbox.manifest, 'pg3')!;
    const receiver = childrenOf(pg3).find((pid) => commandLine(pid).includes('walreceiver'))!;
    expect(receiver).toBeDefined();
    const playbook = await playbookWith(sandbox, 'partition', 'checkpoint', execStep('kill', '-STOP', receiver), {
      'fence-writes': 'stop_timeout: 2s',
    });
    const { value, load } = await underLoad(sandbox, () =>
      watched(sandbox, async () => {
        const run = startPromote(sandbox, '--playbook', playbook, '--target', 'pg2', '--json');
        try {
          // The partition heals only once the switchover is past its pause.
          await waitForJournal(sandbox, stepStarted('-follow'));
          await sleep(1000);
        } finally {
          signal(receiver, 'SIGCONT');
        }
        return run;
      }),
    );
    const run = value.value;
    expect(value.violations).toEqual([]);
    expect(run.exitCode, String(run.stderr)).toBe(0);
    const report = JSON.parse(
      String(run.stdout)
        .split('\n')
        .find((l) => l.includes('"event":"report"'))!,
    ).report;
    // The old primary wrote its shutdown checkpoint at once; its postmaster then waited for pg3
    // (up to wal_sender_timeout, 60 s). The pause did not: it ended well inside that minute.
    expect(report.writePauseMs).toBeLessThan(30_000);
    expect(report.outcome).toBe('succeeded');
    expect((report.steps as Array<{ id: string; status: string }>).filter((s) => s.status === 'failed')).toEqual([]);
    expect(String(run.stdout)).toMatch(/wrote its shutdown checkpoint \(postmaster still exiting\)/);
    expect(await expectOneWriter(sandbox)).toBe('pg2');
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
    expect((await settledTopology(sandbox, 20_000)).upstreamOf).toEqual({ pg1: 'pg2', pg3: 'pg2' });
  });

  test('3. the pooler cannot be repointed after promotion (config file made immutable): clients stay paused, never sent to the old primary', async ({
    sandbox,
  }) => {
    const ini = sandbox.manifest.poolers[0]!.configFile;
    const playbook = await playbookWith(sandbox, 'immutable', 'promote', execStep('chattr', '+i', ini));
    try {
      const { value, load } = await underLoad(sandbox, () =>
        watched(sandbox, async () => {
          const run = await startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
          const t = topology(await observe(sandbox));
          await execa('chattr', ['-i', ini]);
          const again = await startPromote(sandbox);
          return { run, t, again };
        }),
      );
      const { run, t, again } = value.value;
      expect(value.violations).toEqual([]);
      expect(run.exitCode).toBe(5);
      expectLastLinesSay(String(run.stderr), /FAILED AFTER THE POINT OF NO RETURN/, 5);
      expect(String(run.stderr)).toMatch(
        /verified now: +pg2 is the only writable primary; pgbouncer -> pg1 \(PAUSED\)/,
      );
      expect(String(run.stderr)).toMatch(/pgbouncer is still PAUSED and points at pg1/);
      expect({ pointsAt: t.poolerPointsAt, paused: t.poolerPaused }).toEqual({ pointsAt: 'pg1', paused: true });
      expectLastLinesSay(String(again.stderr), /SWITCHOVER SUCCEEDED[\s\S]*finished it/, 0);
      expect(await expectOneWriter(sandbox)).toBe('pg2');
      expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
    } finally {
      await execa('chattr', ['-i', ini], { reject: false });
    }
  });

  test('4. a rollback that cannot restart the old primary says so (exit 5), keeps clients paused, and the next run undoes it', async ({
    sandbox,
  }) => {
    const autoConf = join(sandbox.manifest.nodes[0]!.dataDir, 'postgresql.auto.conf');
    const original = await readFile(autoConf, 'utf8');
    const breakIt = execStep('sh', '-c', `echo "no_such_setting_pgh = 1" >> ${autoConf}; exit 1`);
    const playbook = await playbookWith(sandbox, 'cannot-start', 'fence-writes', breakIt);
    const { value, load } = await underLoad(sandbox, () =>
      watched(sandbox, async () => {
        const run = await startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
        const t = topology(await observe(sandbox));
        await writeFile(autoConf, original);
        const again = await startPromote(sandbox);
        return { run, t, again };
      }),
    );
    const { run, t, again } = value.value;
    expect(value.violations).toEqual([]);
    expect(run.exitCode).toBe(5);
    expectLastLinesSay(String(run.stderr), /FAILED, AND THE ROLLBACK DID NOT RESTORE SERVICE/, 5);
    expect(String(run.stderr)).toMatch(/verified now: +NO writable primary; pgbouncer -> pg1 \(PAUSED\)/);
    expect(t).toMatchObject({ primaries: [], poolerPaused: true });
    expectLastLinesSay(String(again.stderr), /UNDID THE HALF-DONE SWITCHOVER/, 4);
    expect(await expectOneWriter(sandbox)).toBe('pg1');
    expect(load.missing).toBe(0);
  });
});

describe('the run survives its operator', () => {
  const closedTerminal: Array<[string, number, NodeJS.Signals | undefined, number, string, string]> = [
    [
      '5a. stdout and stderr closed inside the pause: the run goes on and succeeds',
      2,
      undefined,
      0,
      'succeeded',
      'pg2',
    ],
    [
      '5b. SIGHUP inside the pause (terminal closed): rolled back like SIGTERM, clients resumed on the old primary',
      4,
      'SIGHUP',
      6,
      'interrupted',
      'pg1',
    ],
  ];
  test.for(closedTerminal)('%s', async ([, seconds, signalName, exitCode, outcome, writer], { sandbox }) => {
    const playbook = await playbookWith(sandbox, 'closed-terminal', 'fence-writes', pauseHere(seconds));
    const { value: run, load } = await underLoad(sandbox, async () => {
      const child = startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
      await waitForJournal(sandbox, stepStarted('-exec'));
      child.stdout!.destroy();
      child.stderr!.destroy();
      if (signalName) child.kill(signalName);
      return child;
    });
    expect(run.exitCode).toBe(exitCode);
    expect(reportInJournal(sandbox)?.outcome).toBe(outcome);
    expect(await expectOneWriter(sandbox)).toBe(writer);
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
  });

  test('5c. the tool SIGKILLed inside the pause: its guardian undoes the fence and clients write again within 10 s, with no second run', async ({
    sandbox,
  }) => {
    const playbook = await playbookWith(sandbox, 'killed-in-pause', 'fence-writes', pauseHere(10));
    const { value: recoveredMs, load } = await underLoad(
      sandbox,
      async () => {
        const child = startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
        await waitForJournal(sandbox, stepStarted('-exec'));
        child.kill('SIGKILL');
        const killedAt = Date.now();
        await child;
        for (;;) {
          const ok = await sql(
            appConn(sandbox),
            'CREATE TABLE IF NOT EXISTS after_kill (x int); INSERT INTO after_kill VALUES (1)',
          ).then(
            () => true,
            () => false,
          );
          if (ok) return Date.now() - killedAt;
          if (Date.now() - killedAt > 10_000) return Number.POSITIVE_INFINITY;
          await sleep(50);
        }
      },
      { settleMs: 1500 },
    );
    expect(recoveredMs).toBeLessThan(10_000);
    // Its report comes once the replicas have reattached, after the clients are back.
    await waitUntil(() => journalEvents(sandbox).some((e) => e.event === 'guardian-recovery-end'), 20_000);
    expect(await expectOneWriter(sandbox)).toBe('pg1');
    expect(journalEvents(sandbox).some((e) => e.event === 'guardian-recovery-end' && e.outcome === 'rolled-back')).toBe(
      true,
    );
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
  });

  test('5d. the tool SIGKILLed after promotion: its guardian finishes the switchover, with no second run', async ({
    sandbox,
  }) => {
    const playbook = await playbookWith(sandbox, 'killed-late', 'promote', pauseHere(10));
    const { load } = await underLoad(sandbox, async () => {
      const child = startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
      await waitForJournal(sandbox, stepStarted('-exec'));
      child.kill('SIGKILL');
      await child;
      await waitUntil(() => journalEvents(sandbox).some((e) => e.event === 'guardian-recovery-end'), 30_000);
    });
    expect(journalEvents(sandbox).find((e) => e.event === 'guardian-recovery-end')?.outcome).toBe('succeeded');
    expect(await expectOneWriter(sandbox)).toBe('pg2');
    expect((await settledTopology(sandbox)).upstreamOf).toEqual({ pg1: 'pg2', pg3: 'pg2' });
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
  });
});

describe('replicas that are legitimately not streaming', () => {
  test('7. a delayed replica (recovery_min_apply_delay) is repointed, not waited for, and reported as "to check"', async ({
    sandbox,
  }) => {
    const pg3 = nodeConn(sandbox, 'pg3', 'postgres');
    await sql(pg3, "ALTER SYSTEM SET recovery_min_apply_delay = '1h'");
    await sql(pg3, 'SELECT pg_reload_conf()');
    const { value: run, load } = await underLoad(sandbox, () => startPromote(sandbox, '--target', 'pg2'));
    const stderr = String(run.stderr);
    expect(run.exitCode, stderr).toBe(0);
    expect(stderr).toMatch(
      /other-replicas +pg3 will be repointed to pg2 but not waited for \(recovery_min_apply_delay = 3600\.00 s/,
    );
    expect(stderr).toMatch(
      /replica: +pg3: repointed to pg2, not waited for \(recovery_min_apply_delay = 3600\.00 s.*\): to check/,
    );
    expect(reportInJournal(sandbox)?.totalMs).toBeLessThan(20_000);
    const [row] = await sql(pg3, 'SHOW primary_conninfo');
    expect(String(row!.primary_conninfo)).toContain(`port=${sandbox.manifest.nodes[1]!.port}`);
    expect(await expectOneWriter(sandbox)).toBe('pg2');
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
  });
});

describe('preflight checks everything the run will need (item 6)', () => {
  test('wrong data_dir, a host prefix that cannot run, an immutable pooler config, an unwritable journal dir: refused up front; sslmode=prefer works', async ({
    sandbox,
  }) => {
    const text = readFileSync(sandbox.manifest.inventoryFile, 'utf8');
    const variant = async (name: string, edit: (t: string) => string) => {
      const file = join(sandbox.dir, `${name}.yaml`);
      await writeFile(file, edit(text));
      return file;
    };
    const pg1Data = sandbox.manifest.nodes[0]!.dataDir;
    const wrongDir = await variant('wrong-dir', (t) =>
      t.replace(`data_dir: ${pg1Data}\n`, `data_dir: ${sandbox.manifest.nodes[1]!.dataDir}\n`),
    );
    const badPrefix = await variant('bad-prefix', (t) =>
      t.replace(
        /host_access:\n\s+kind: local\n\s+run_as: postgres/,
        'host_access: { kind: command, command: [sudo-that-does-not-exist, -u, postgres] }',
      ),
    );
    const dry = (inventory: string, ...more: string[]) =>
      execa(
        'node',
        [
          join(process.cwd(), 'bin/pg-handover.js'),
          'promote',
          '-i',
          inventory,
          '--dry-run',
          '--journal-dir',
          journalDir(sandbox),
          ...more,
        ],
        { reject: false, stdin: 'ignore' },
      );
    const wrong = await dry(wrongDir);
    expect(wrong.exitCode).toBe(3);
    expect(wrong.stdout).toMatch(/FAIL +host-access +pg1: data_dir \S+pg2 is not the server's data directory/);
    const prefix = await dry(badPrefix);
    expect(prefix.exitCode).toBe(3);
    expect(prefix.stdout).toMatch(/FAIL +host-access +pg1: reading \S+postmaster\.pid via sudo-that-does-not-exist/);
    const ini = sandbox.manifest.poolers[0]!.configFile;
    await execa('chattr', ['+i', ini]);
    try {
      const immutable = await dry(sandbox.manifest.inventoryFile);
      expect(immutable.exitCode).toBe(3);
      expect(immutable.stdout).toMatch(/FAIL +pooler-config-file +pooler pgbouncer: \S+pgbouncer\.ini is not writable/);
    } finally {
      await execa('chattr', ['-i', ini]);
    }
    // A journal directory below a file (a typo): it cannot be created.
    const journal = await dry(sandbox.manifest.inventoryFile, '--journal-dir', join(sandbox.manifest.passfile, 'runs'));
    expect(journal.exitCode).toBe(3);
    expect(journal.stdout).toMatch(
      /FAIL +journal-dir +journal directory \S+pgpass\/runs cannot be written \(ENOTDIR\)/,
    );
    // Node's recursive mkdir spins forever under /proc: this must fail at once instead.
    const proc = await dry(sandbox.manifest.inventoryFile, '--journal-dir', '/proc/no-journal-here');
    expect(proc.stdout).toMatch(
      /FAIL +journal-dir +journal directory \/proc\/no-journal-here cannot be written \(ENOENT\)/,
    );
    // Item 10: sslmode=prefer against servers without TLS falls back to plain text, as libpq does.
    const prefer = await variant('prefer', (t) =>
      t.replace(/dbname=(postgres|pgbouncer)/g, 'dbname=$1 sslmode=prefer'),
    );
    const ready = await dry(prefer);
    expect(ready.exitCode, ready.stdout).toBe(0);
    expect(ready.stdout).toMatch(/READY: pg1 -> pg2/);
    expect(await expectOneWriter(sandbox)).toBe('pg1');
    expect(isAlive(postmasterPid(sandbox.manifest, 'pg1')!)).toBe(true);
  });
});
