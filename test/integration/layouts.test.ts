/**
 * Clusters laid out as operators run them. The Debian/Ubuntu layout, built by postgresql-common
 * itself: config in /etc-style directories outside the data directory, servers started and
 * stopped by pg_ctlcluster, given to the tool as each node's service commands.
 */
import { readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cli, reportOf } from './support/cli.js';
import { nodeConn, observe, settledTopology, sql, underLoad, waitUntilStreaming } from './support/cluster.js';
import {
  expectOneWriter,
  journalEvents,
  pauseHere,
  playbookWith,
  startPromote,
  stepStarted,
  waitForJournal,
} from './support/faults.js';
import { sleep } from '../../src/util/time.js';
import { postmasterPid } from '../../src/sandbox/control.js';
import { run } from '../../src/shell/exec.js';
import { runAsIdentity } from '../../src/shell/os-user.js';
import { describe, expect, startSandbox, stopSandbox, test } from './support/fixtures.js';
import type { PgBouncerSpec } from '../../src/routers/pgbouncer/spec.js';

const switchover = (inventory: string, ...more: string[]) => [
  'switchover',
  '--inventory',
  inventory,
  '--yes',
  '--json',
  ...more,
];

describe('the Debian layout (pg_createcluster, pg_ctlcluster as service commands)', () => {
  test('switchover both ways under load with the old primary rejoining each time, then a rollback that restarts it through its service', async () => {
    const sandbox = await startSandbox(2, 1, 'debian');
    try {
      const inventory = sandbox.manifest.inventoryFile;
      const pg1 = (await observe(sandbox)).nodes.find((n) => n.name === 'pg1')!;
      expect(pg1.reachable && pg1.settings.config_file).toBe(join(sandbox.dir, 'etc', '15', 'pg1', 'postgresql.conf'));

      const dry = await cli(['switchover', '--inventory', inventory, '--dry-run', '--target', 'pg2']);
      expect(dry.exitCode, dry.stdout).toBe(0);
      expect(dry.stdout).toContain('pg_ctlcluster 15 pg1 stop -m fast');
      expect(dry.stdout).toContain('pg_ctlcluster 15 pg1 start');

      for (const [target, old] of [
        ['pg2', 'pg1'],
        ['pg1', 'pg2'],
      ] as const) {
        const { value: result, load } = await underLoad(sandbox, () => cli(switchover(inventory, '--target', target)));
        expect(result.exitCode, result.stderr).toBe(0);
        expect(reportOf(result).oldPrimaryState).toBe(`replica streaming from ${target}`);
        expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
        const after = await settledTopology(sandbox);
        expect(after.primaries).toEqual([target]);
        expect(after.upstreamOf[old]).toBe(target);
        expect(after.upstreamOf.pg3).toBe(target);
      }

      const failing = join(sandbox.dir, 'fail-after-fence.yaml');
      await writeFile(
        failing,
        [
          'name: fail-after-fence',
          'steps:',
          '  - kind: preflight',
          '  - kind: fence-writes',
          '  - kind: exec',
          '    command: ["false"]',
          '  - kind: wait-catchup',
          '  - kind: promote',
          '  - kind: repoint-pooler',
          '  - kind: resume',
          '',
        ].join('\n'),
      );
      const { value: rolled, load } = await underLoad(sandbox, () =>
        cli(switchover(inventory, '--playbook', failing, '--target', 'pg2')),
      );
      expect(rolled.exitCode, rolled.stderr).toBe(4);
      expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
      expect(await expectOneWriter(sandbox)).toBe('pg1');
    } finally {
      await stopSandbox(sandbox);
    }
  });
});

describe('PgBouncer as operators configure it', () => {
  test('[databases] in a %included file, a * fallback serving another database, md5 logins: both move, every database is writable on the new primary, no password printed', async ({
    sandbox,
  }) => {
    const pooler = sandbox.inventory.poolers[0] as PgBouncerSpec;
    const ini = pooler.configFile;
    const primaryPort = sandbox.manifest.nodes[0]!.port;
    await sql(nodeConn(sandbox, 'pg1', 'postgres'), 'CREATE DATABASE otherdb OWNER app');
    const original = await readFile(ini, 'utf8');
    const appdbLine = original.split('\n').find((l) => l.startsWith('appdb ='))!;
    const included = join(sandbox.dir, 'databases.ini');
    await writeFile(included, `${appdbLine}\n`);
    // md5 for clients and the admin user, as many existing PgBouncers still run.
    await writeFile(
      ini,
      original
        .replace(appdbLine, `%include ${included}\n* = host=localhost port=${primaryPort}`)
        .replace('auth_type = scram-sha-256', 'auth_type = md5'),
    );
    await sql(pooler.admin, 'RELOAD');
    const other = { ...pooler.app!, dbname: 'otherdb' };
    await sql(other, 'CREATE TABLE marks (n int)'); // PgBouncer now has a pool for otherdb, made from *

    const dry = await cli([
      'switchover',
      '--inventory',
      sandbox.manifest.inventoryFile,
      '--dry-run',
      '--target',
      'pg2',
    ]);
    expect(dry.exitCode, dry.stdout).toBe(0);
    expect(dry.stdout).toMatch(/pooler-other-databases +pooler pgbouncer also sends otherdb to pg1/);

    const { value: result, load } = await underLoad(sandbox, () =>
      cli(switchover(sandbox.manifest.inventoryFile, '--target', 'pg2')),
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
    for (const secret of [pooler.admin.password!, pooler.app!.password!])
      expect(`${dry.stdout}${dry.stderr}${result.stdout}${result.stderr}`).not.toContain(secret);
    const pg2 = sandbox.manifest.nodes[1]!.port;
    expect(await readFile(included, 'utf8')).toBe(`${appdbLine.replace(`port=${primaryPort}`, `port=${pg2}`)}\n`);
    expect(await readFile(ini, 'utf8')).toContain(`* = host=127.0.0.1 port=${pg2}`);
    const [row] = await sql(other, 'INSERT INTO marks VALUES (1) RETURNING inet_server_port() AS port');
    expect(row!.port).toBe(pg2);
    const [app] = await sql(pooler.app!, 'SELECT inet_server_port() AS port, pg_is_in_recovery() AS ro');
    expect(app).toEqual({ port: pg2, ro: false });
  });
});

describe('discovered paths', () => {
  test('an inventory without data_dir or bin_dir: preflight finds them, a switchover runs both ways, and a guardian restarts a stopped old primary from the paths its run recorded', async ({
    sandbox,
  }) => {
    const file = sandbox.manifest.inventoryFile;
    await writeFile(
      file,
      (await readFile(file, 'utf8'))
        .split('\n')
        .filter((l) => !/^\s+(data_dir|bin_dir):/.test(l))
        .join('\n'),
    );
    // pg1's output goes to a file of the operator's choosing; the tool's restart must keep it there.
    const pg1 = sandbox.manifest.nodes[0]!;
    const ownLog = join(sandbox.dir, 'pg1-own.log');
    const restarted = await run(
      [join(sandbox.manifest.pgBin, 'pg_ctl'), '-D', pg1.dataDir, '-l', ownLog, '-m', 'fast', '-w', 'restart'],
      { ...runAsIdentity(sandbox.manifest.osUser, 'test'), timeoutMs: 30_000 },
    );
    expect(restarted.ok, restarted.stderr).toBe(true);
    await waitUntilStreaming(sandbox, 'pg2', 'pg1');
    await waitUntilStreaming(sandbox, 'pg3', 'pg1');
    const dry = await cli(['switchover', '--inventory', file, '--dry-run', '--target', 'pg2']);
    expect(dry.exitCode, dry.stdout).toBe(0);
    expect(dry.stdout).toContain(
      `discovered data_dir ${sandbox.manifest.nodes[0]!.dataDir} (SHOW data_directory), bin_dir ${sandbox.manifest.pgBin} (postmaster.opts)`,
    );
    for (const target of ['pg2', 'pg1']) {
      const result = await cli(switchover(file, '--target', target));
      expect(result.exitCode, result.stderr).toBe(0);
      if (target === 'pg2') expect(await readlink(`/proc/${postmasterPid(sandbox.manifest, 'pg1')}/fd/2`)).toBe(ownLog);
    }
    // Killed inside the pause, pg1 stopped: the recovering run observes it down and uses the journal's paths.
    const playbook = await playbookWith(sandbox, 'killed-in-pause', 'fence-writes', pauseHere(10));
    const child = startPromote(sandbox, '--playbook', playbook, '--target', 'pg2');
    await waitForJournal(sandbox, stepStarted('-exec'));
    child.kill('SIGKILL');
    await child;
    for (let i = 0; !journalEvents(sandbox).some((e) => e.event === 'guardian-recovery-end'); i++) {
      if (i > 200) throw new Error('the guardian did not finish');
      await sleep(100);
    }
    expect(journalEvents(sandbox).find((e) => e.event === 'guardian-recovery-end')).toMatchObject({
      outcome: 'rolled-back',
    });
    expect(await expectOneWriter(sandbox)).toBe('pg1');
  });
});
