/**
 * Issue 23 on clusters built the usual way and under a write load: replicas cloned by a plain
 * `pg_basebackup -R` (their primary_conninfo names a passfile that does not exist, replication is
 * trusted), a rejoin of a diverged primary while clients write, a re-run after a manual repair,
 * synchronous replication after a failover, a straggler, rolling restarts with a node down.
 */
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../../src/inventory/load.js';
import { sandboxDown } from '../../src/sandbox/down.js';
import { sandboxUp } from '../../src/sandbox/up.js';
import { cli, reportOf } from './support/cli.js';
import { appConn, nodeConn, settledTopology, sql, underLoad } from './support/cluster.js';
import { postmasterPid, startNode } from '../../src/sandbox/control.js';
import { waitGone } from '../../src/shell/processes.js';
import { sleep } from '../../src/util/time.js';
import { describe, expect, test as base, type SandboxFixture } from './support/fixtures.js';

/** A cluster whose replicas came from `pg_basebackup -R` without a passfile, replication trusted from loopback. */
const test = base.extend<{ usual: SandboxFixture }>({
  // eslint-disable-next-line no-empty-pattern
  usual: async ({}, use) => {
    const parent = await mkdtemp(join(tmpdir(), 'pgh-usual-'));
    await chmod(parent, 0o711);
    const dir = join(parent, 'sb');
    try {
      const { manifest } = await sandboxUp({ dir, replicas: 2, replicationAuth: 'trust' });
      await use({ manifest, inventory: await loadInventory(manifest.inventoryFile), dir });
    } finally {
      await sandboxDown(dir).catch(() => undefined);
      await rm(parent, { recursive: true, force: true });
    }
  },
});

const on = (sandbox: SandboxFixture, node: string, text: string) => sql(nodeConn(sandbox, node, 'postgres'), text);
async function killNode(sandbox: SandboxFixture, node: string): Promise<void> {
  const pid = postmasterPid(sandbox.manifest, node)!;
  process.kill(pid, 'SIGKILL');
  await waitGone([pid], 10_000);
}

describe('clusters built with pg_basebackup -R', () => {
  test('a primary_conninfo naming a passfile that does not exist is no refusal: the stream is proven by making it; a pg_hba.conf that rejects it is', async ({
    usual,
  }) => {
    const [row] = await on(usual, 'pg2', "SELECT current_setting('primary_conninfo') AS c");
    const passfile = /passfile='?([^' ]+)/.exec(String(row!.c))?.[1];
    expect(passfile, String(row!.c)).toBeDefined();
    expect(existsSync(passfile!)).toBe(false);
    const dry = await cli(['switchover', '-i', usual.manifest.inventoryFile, '--dry-run', '-t', 'pg2']);
    expect(dry.exitCode, dry.stdout).toBe(0);
    expect(dry.stdout).toMatch(
      /host-access +pg1: .*a replication connection to pg2 made from there with the conninfo it will stream with/,
    );
    const { value: result, load } = await underLoad(usual, () =>
      cli(['switchover', '-i', usual.manifest.inventoryFile, '--yes', '--json', '-t', 'pg2']),
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(reportOf(result).oldPrimaryState).toBe('replica streaming from pg2');
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });

    // pg3 now rejects replication from the loopback: the old primary (pg2) could not follow it.
    const hba = join(usual.manifest.nodes.find((n) => n.name === 'pg3')!.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `host replication all 127.0.0.1/32 reject\n${readFileSync(hba, 'utf8')}`);
    await on(usual, 'pg3', 'SELECT pg_reload_conf()');
    const refused = await cli(['switchover', '-i', usual.manifest.inventoryFile, '--dry-run', '-t', 'pg3']);
    expect(refused.exitCode).toBe(3);
    expect(refused.stdout).toMatch(
      /FAIL +host-access +pg2: a replication connection to pg3 with the primary_conninfo pg2 will stream with after the switchover .*pg_hba.conf rejects replication connection/,
    );
    const elsewhere = await cli(['switchover', '-i', usual.manifest.inventoryFile, '--dry-run', '-t', 'pg1']);
    expect(elsewhere.exitCode, elsewhere.stdout).toBe(0);
  });

  test("rejoin of a diverged primary while clients write: exit 0, the discarded WAL said; a failed rejoin's record is closed by the re-run once the node streams, and the next switchover runs", async ({
    usual,
  }) => {
    const inventory = usual.manifest.inventoryFile;
    await sql(appConn(usual), 'CREATE TABLE marks (tag text)');
    await killNode(usual, 'pg1');
    const failover = await cli(['failover', '-i', inventory, '--yes', '--json']);
    expect(failover.exitCode, failover.stderr).toBe(0);
    const primary = reportOf(failover).primaryNow as string;
    // pg1 restarted alone: a primary on the old timeline, taking direct writes the cluster never saw.
    // Its orphaned backends hold the old shared memory for a moment after the kill.
    for (let attempt = 1; ; attempt++) {
      const started = await startNode(usual.manifest, 'pg1').then(
        () => true,
        (error: Error) => (attempt < 20 ? false : Promise.reject(error)),
      );
      if (started) break;
      await sleep(250);
    }
    await on(
      usual,
      'pg1',
      'CREATE TABLE IF NOT EXISTS public.own (v int); INSERT INTO public.own SELECT generate_series(1, 5000)',
    );

    const dry = await cli(['rejoin', 'pg1', '-i', inventory, '--dry-run']);
    expect(dry.exitCode, dry.stdout).toBe(0);
    expect(dry.stdout).toMatch(
      /its own writes after the fork are discarded \(its WAL ends at [0-9A-F]+\/[0-9A-F]+ now\); to read them first: \S*pg_waldump -p \S+\/pg_wal -s/,
    );
    expect(dry.stdout).toMatch(/postgresql.auto.conf: primary_conninfo = .*\(before it starts\)/);

    const { value: rejoin, load } = await underLoad(
      usual,
      () => cli(['rejoin', 'pg1', '-i', inventory, '--yes', '--json']),
      { clients: 4, rate: 300 },
    );
    expect(rejoin.exitCode, rejoin.stdout.slice(-3000) + rejoin.stderr).toBe(0);
    const report = reportOf(rejoin);
    expect(report.oldPrimaryState).toBe(`replica streaming from ${primary} (pg_rewind)`);
    expect(report.notes.join('\n')).toMatch(
      /pg1's own writes after the fork were discarded by pg_rewind: its WAL from [0-9A-F]+\/[0-9A-F]+ to at least [0-9A-F]+\/[0-9A-F]+ \(\d+ bytes\)/,
    );
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
    expect((await on(usual, primary, "SELECT to_regclass('public.own') AS t"))[0]!.t).toBeNull();

    // A rejoin whose playbook fails after the node streams (a check of the operator's that fails): an unfinished record.
    const failing = join(usual.dir, 'failing-rejoin.yaml');
    writeFileSync(failing, 'name: failing\nsteps:\n  - kind: rejoin\n  - kind: exec\n    command: ["false"]\n');
    await killNode(usual, 'pg1');
    const failed = await cli(['rejoin', 'pg1', '-i', inventory, '--yes', '--playbook', failing]);
    expect(failed.exitCode, failed.stderr).toBe(5);
    expect(failed.stderr).not.toMatch(/old primary: +pg1: primary/);
    if (failed.exitCode !== 5) process.stderr.write(readFileSync(join(usual.dir, 'pg1.log'), 'utf8').slice(-3000));
    // Named, not blocking (the soak found a failed rejoin refusing the next failover): pg1 is left out.
    const named = await cli(['switchover', '-i', inventory, '--dry-run']);
    expect(named.stdout).toMatch(
      /warn +rejoin-unfinished +run \S+ of the rejoin procedure \(pg1\) did not finish .*run `pg-handover rejoin pg1` again/,
    );
    // The node streams by itself (its settings were written before it started): the re-run closes the record.
    await settledTopology(usual, 20_000);
    const again = await cli(['rejoin', 'pg1', '-i', inventory, '--yes']);
    if (again.exitCode !== 0) process.stderr.write(readFileSync(join(usual.dir, 'pg1.log'), 'utf8').slice(-4000));
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stderr).toMatch(
      /half-done-closed +run \S+ of the rejoin procedure did not finish, but its goal is met/,
    );
    expect(again.stderr).toMatch(
      /NOTHING TO DO: run \S+ had reached its goal \(pg1 streams from \S+, as the rejoin meant\)/,
    );
    const next = await cli(['switchover', '-i', inventory, '--yes', '-t', 'pg1']);
    expect(next.exitCode, next.stderr).toBe(0);
  });

  test("a failover gives synchronous replication back once the standbys stream (the operator's config, not an ALTER SYSTEM override); the loss estimate uses the tool's own records", async ({
    usual,
  }) => {
    const inventory = usual.manifest.inventoryFile;
    for (const node of usual.manifest.nodes) {
      appendFileSync(join(node.dataDir, 'postgresql.conf'), "\nsynchronous_standby_names = 'ANY 1 (pg1, pg2, pg3)'\n");
      await on(usual, node.name, 'SELECT pg_reload_conf()');
    }
    // The tool's own switchover makes pg2 the primary; its record is the last sight of pg2.
    const switched = await cli(['switchover', '-i', inventory, '--yes', '-t', 'pg2']);
    expect(switched.exitCode, switched.stderr).toBe(0);
    const { value: failover, load } = await underLoad(
      usual,
      async () => {
        await killNode(usual, 'pg2');
        return cli(['failover', '-i', inventory, '--yes', '--json']);
      },
      { clients: 4, rate: 200 },
    );
    expect(failover.exitCode, failover.stderr).toBe(0);
    const report = reportOf(failover);
    expect(report.possibleLoss).not.toMatch(/no earlier observation/);
    expect(report.possibleLoss).toMatch(/synchronous standby of pg2|pg2 had flushed it when last seen/);
    const primary = report.primaryNow as string;
    const [row] = await on(
      usual,
      primary,
      "SELECT current_setting('synchronous_standby_names') AS s, (SELECT count(*)::int FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')) AS n",
    );
    expect(row).toEqual({ s: 'ANY 1 (pg1, pg2, pg3)', n: 1 });
    expect(
      readFileSync(join(usual.manifest.nodes.find((n) => n.name === primary)!.dataDir, 'postgresql.auto.conf'), 'utf8'),
    ).not.toMatch(/synchronous_standby_names/);
    // Synchronous (ANY 1): no acknowledged commit lost.
    expect(load.missing).toBe(0);
    const check = await cli(['check', '-i', inventory]);
    expect(check.stdout).not.toMatch(/synchronous-standby-names-override/);
    // An ALTER SYSTEM that overrides the operator's value is flagged by check.
    await on(usual, primary, "ALTER SYSTEM SET synchronous_standby_names = ''");
    await on(usual, primary, 'SELECT pg_reload_conf()');
    const flagged = await cli(['check', '-i', inventory]);
    expect(flagged.stdout).toMatch(
      /warning: synchronous-standby-names-override: \S+: postgresql.auto.conf sets synchronous_standby_names = '', overriding 'ANY 1 \(pg1, pg2, pg3\)'/,
    );
  });

  test('a replica whose WAL receiver is stuck: the failover ends "done, degraded" (exit 8) within the bounded window, clients fine', async ({
    usual,
  }) => {
    const inventory = usual.manifest.inventoryFile;
    const [receiver] = await on(usual, 'pg3', 'SELECT pid FROM pg_stat_wal_receiver');
    const stuck = Number(receiver!.pid);
    // Stopped first: it must not notice pg1 going away (a receiver stuck in a hung network call).
    try {
      const started = Date.now();
      const { value: failover, load } = await underLoad(
        usual,
        async () => {
          process.kill(stuck, 'SIGSTOP');
          await killNode(usual, 'pg1');
          return cli(['failover', '-i', inventory, '--yes', '--json', '-t', 'pg2']);
        },
        { clients: 4, rate: 200 },
      );
      const tookMs = Date.now() - started;
      expect(failover.exitCode, failover.stderr).toBe(8);
      const report = reportOf(failover);
      expect(report.outcome).toBe('degraded');
      expect(report.primaryNow).toBe('pg2');
      expect(report.followers.pg3).toMatch(/did not follow pg2 within 10.00 s: to check/);
      expect(report.leftToDo.join('\n')).toMatch(/make pg3 stream from pg2/);
      expect(load.acknowledged).toBeGreaterThan(100);
      process.stderr.write(`stuck replica: failover exit 8 (degraded) in ${tookMs} ms (follow window 10 s)\n`);
    } finally {
      process.kill(stuck, 'SIGCONT');
    }
  });
});
