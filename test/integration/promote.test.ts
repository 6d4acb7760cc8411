import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { join } from 'node:path';
import { createLoadTable, longestGap, missingAcknowledged, WriteLoad } from '../../src/sandbox/write-load.js';
import { readPidFile } from '../../src/shell/processes.js';
import { execStep, playbookWith } from './support/faults.js';
import { sleep } from '../../src/util/time.js';
import { cli, reportOf } from './support/cli.js';
import {
  nodeConn,
  observe,
  settledTopology,
  snapshot,
  sql,
  stopPooler,
  topology,
  underLoad,
} from './support/cluster.js';
import { describe, expect, startSandbox, stopSandbox, test } from './support/fixtures.js';

const promoteArgs = (inventory: string, ...more: string[]) => [
  'promote',
  '--inventory',
  inventory,
  '--yes',
  '--json',
  ...more,
];

describe('promote: planned switchover', () => {
  test('under continuous write load: no client errors, no lost commit, everything follows the new primary', async ({
    sandbox,
  }) => {
    const before = topology(await observe(sandbox));
    expect(before.primaries).toEqual(['pg1']);
    const { value: result, load } = await underLoad(
      sandbox,
      () => cli(promoteArgs(sandbox.manifest.inventoryFile, '--target', 'pg2')),
      { clients: 8 },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const report = reportOf(result);
    expect(report.outcome).toBe('succeeded');
    expect(report.primaryNow).toBe('pg2');
    expect(BigInt(`0x${report.targetReplayLsn.replace('/', '')}`)).toBeGreaterThan(
      BigInt(`0x${report.finalLsn.replace('/', '')}`),
    );
    expect(load.acknowledged).toBeGreaterThan(100);
    expect(load.errors).toBe(0);
    expect(load.missing).toBe(0);

    const after = await settledTopology(sandbox);
    expect(after.primaries).toEqual(['pg2']);
    expect(after.poolerPointsAt).toBe('pg2');
    expect(after.poolerPaused).toBe(false);
    expect(after.upstreamOf).toEqual({ pg1: 'pg2', pg3: 'pg2' });
    expect(after.timelineOf.pg2).toBeGreaterThan(before.timelineOf.pg1!);
    expect(after.timelineOf.pg3).toBe(after.timelineOf.pg2);
    expect(after.readOnly).toEqual([]);
    const [row] = await sql(
      sandbox.inventory.poolers[0]!.app!,
      'INSERT INTO load_1 VALUES (999, 1) RETURNING inet_server_port() AS port',
    );
    expect(row!.port).toBe(sandbox.manifest.nodes[1]!.port);
  });

  test('back and forth five times under load, each as clean as the first', async ({ sandbox }) => {
    for (const target of ['pg2', 'pg1', 'pg3', 'pg2', 'pg1']) {
      const { value: result, load } = await underLoad(
        sandbox,
        () => cli(promoteArgs(sandbox.manifest.inventoryFile, '--target', target)),
        { settleMs: 300 },
      );
      expect(result.exitCode, `to ${target}: ${result.stderr}`).toBe(0);
      expect({ target, errors: load.errors, missing: load.missing }).toEqual({ target, errors: 0, missing: 0 });
      const t = await settledTopology(sandbox);
      expect(t.primaries).toEqual([target]);
      expect(t.poolerPointsAt).toBe(target);
      expect(Object.values(t.upstreamOf)).toEqual([target, target]);
    }
  });

  test('--dry-run leaves every node and PgBouncer exactly as they were', async ({ sandbox }) => {
    const before = await snapshot(sandbox);
    const result = await cli(['promote', '--inventory', sandbox.manifest.inventoryFile, '--dry-run']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/READY: pg1 -> pg2/);
    expect(result.stdout).toContain('SELECT pg_promote(false)');
    expect(result.stdout).toContain('admin: PAUSE appdb');
    expect(await snapshot(sandbox)).toEqual(before);
  });

  test('rollback: catch-up made impossible, the run fails, and the old primary serves again', async ({ sandbox }) => {
    const playbook = join(sandbox.dir, 'stuck.yaml');
    await writeFile(
      playbook,
      `name: stuck-catchup
steps:
  - kind: preflight
  - kind: checkpoint
  - kind: sql
    node: target
    sql: SELECT pg_wal_replay_pause()
  - kind: fence-writes
  - kind: wait-catchup
    timeout: 1s
  - kind: promote
  - kind: repoint-pooler
  - kind: resume
  - kind: verify
`,
    );
    const { value: result, load } = await underLoad(sandbox, () =>
      cli(promoteArgs(sandbox.manifest.inventoryFile, '--playbook', playbook, '--target', 'pg2')),
    );
    expect(result.exitCode).toBe(4);
    expect(reportOf(result).outcome).toBe('rolled-back');
    expect(reportOf(result).error).toMatch(/pg2 replaying up to .* did not happen within 1000 ms/);
    expect(reportOf(result).steps.find((s: { id: string }) => s.id === '4-fence-writes').status).toBe('undone');
    expect(load.missing).toBe(0);
    const t = topology(await observe(sandbox));
    expect(t.primaries).toEqual(['pg1']);
    expect(t.poolerPointsAt).toBe('pg1');
    expect(t.poolerPaused).toBe(false);
    expect(t.readOnly).toEqual([]);
    const [row] = await sql(
      sandbox.inventory.poolers[0]!.app!,
      'SELECT inet_server_port() AS port, pg_is_in_recovery() AS rec',
    );
    expect(row).toEqual({ port: sandbox.manifest.nodes[0]!.port, rec: false });
    await sql(nodeConn(sandbox, 'pg2'), 'SELECT pg_wal_replay_resume()');
  });
});

describe('promote: preflight refusals (exit 3, nothing changed)', () => {
  test('target is not a replica', async ({ sandbox }) => {
    const result = await cli(['promote', '--inventory', sandbox.manifest.inventoryFile, '--target', 'pg1', '--yes']);
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(/target-is-replica: pg1 is not in recovery/);
  });

  test('lag over the limit (replay paused while writes continue)', async ({ sandbox }) => {
    await sql(nodeConn(sandbox, 'pg2'), 'SELECT pg_wal_replay_pause()');
    await sql(
      sandbox.inventory.poolers[0]!.app!,
      'CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 20) AS pad FROM generate_series(1, 40000) g',
    );
    const playbook = join(sandbox.dir, 'tight.yaml');
    await writeFile(
      playbook,
      'name: tight\nsteps:\n  - kind: preflight\n    max_lag_bytes: 1048576\n  - kind: fence-writes\n  - kind: wait-catchup\n  - kind: promote\n  - kind: repoint-pooler\n  - kind: resume\n',
    );
    const result = await cli([
      'promote',
      '--inventory',
      sandbox.manifest.inventoryFile,
      '--playbook',
      playbook,
      '--target',
      'pg2',
      '--yes',
    ]);
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(/lag-bytes: pg2 replay lag \d+ B exceeds the limit of 1048576 B/);
    expect(topology(await observe(sandbox)).primaries).toEqual(['pg1']);
  });

  test('PgBouncer unreachable', async ({ sandbox }) => {
    await stopPooler(sandbox, 0);
    const result = await cli(['promote', '--inventory', sandbox.manifest.inventoryFile, '--yes']);
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(/pooler-reachable: pooler pgbouncer admin console unreachable/);
    expect(topology(await observe(sandbox)).primaries).toEqual(['pg1']);
  });

  test('target replicates from another cluster', async ({ sandbox }) => {
    const other = await startSandbox(1);
    try {
      const stranger = other.inventory.nodes[1]!;
      const inventory = join(sandbox.dir, 'mixed.yaml');
      const original = (await import('node:fs')).readFileSync(sandbox.manifest.inventoryFile, 'utf8');
      await writeFile(
        inventory,
        original.replace(
          'nodes:\n',
          `nodes:\n  - name: stranger\n    dsn: host=127.0.0.1 port=${stranger.conn.port} user=handover dbname=postgres password=${stranger.conn.password}\n`,
        ),
      );
      const result = await cli(['promote', '--inventory', inventory, '--target', 'stranger', '--dry-run']);
      expect(result.exitCode).toBe(3);
      // Known by identity before any other check: not part of this cluster, named.
      expect(result.stdout).toMatch(
        /FAIL {2}same-cluster +stranger is not part of this cluster: its system identifier is \d+, while pg1, pg2, pg3 have \d+/,
      );
      expect(result.stdout + result.stderr).not.toContain(stranger.conn.password!);
    } finally {
      await stopSandbox(other);
    }
  });
});

describe('promote: several PgBouncers, all or nothing', () => {
  test('two poolers under load are paused, repointed and resumed together', async () => {
    const sandbox = await startSandbox(2, 2);
    try {
      await createLoadTable(sandbox.inventory.poolers[1]!.app!, 'second_load');
      const second = new WriteLoad({
        conn: sandbox.inventory.poolers[1]!.app!,
        clients: 3,
        rate: 150,
        table: 'second_load',
      });
      const { value: result, load } = await underLoad(sandbox, async () => {
        second.start();
        const run = await cli(promoteArgs(sandbox.manifest.inventoryFile, '--target', 'pg3'));
        await sleep(300);
        return run;
      });
      const other = await second.stop();
      expect(result.exitCode, result.stderr).toBe(0);
      expect(reportOf(result).poolers).toEqual([
        { name: 'pgbouncer', pointsAt: 'pg3', paused: false },
        { name: 'pgbouncer2', pointsAt: 'pg3', paused: false },
      ]);
      expect({ errors: load.errors + other.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
      expect(await missingAcknowledged(nodeConn(sandbox, 'pg3'), other.records, 'second_load')).toBe(0);
      const state = await observe(sandbox);
      for (const pooler of state.poolers) {
        expect(pooler.reachable && pooler.routes.find((d) => d.name === 'appdb')?.port).toBe(
          sandbox.manifest.nodes[2]!.port,
        );
      }

      await stopPooler(sandbox, 1);
      const refused = await cli(['promote', '--inventory', sandbox.manifest.inventoryFile, '--yes']);
      expect(refused.exitCode).toBe(3);
      expect(refused.stderr).toMatch(/pooler-reachable: pooler pgbouncer2 admin console unreachable/);
      expect(topology(await observe(sandbox)).poolerPaused).toBe(false);
    } finally {
      await stopSandbox(sandbox);
    }
  });
});

describe('promote: a second PgBouncer frozen during the run', () => {
  test("the first pooler's clients are held no longer than pause_timeout plus a bounded second; the frozen one is named (exit 5)", async () => {
    const sandbox = await startSandbox(2, 2);
    const frozen = readPidFile(sandbox.manifest.poolers[1]!.pidFile)!;
    try {
      // pgbouncer2 stops answering right after preflight (its process SIGSTOPped), before the fence.
      const playbook = await playbookWith(
        sandbox,
        'freeze-second-pooler',
        'preflight',
        execStep('kill', '-STOP', frozen),
        { 'fence-writes': 'pause_timeout: 2s' },
      );
      const { value: result, load } = await underLoad(sandbox, () =>
        cli([
          'promote',
          '-i',
          sandbox.manifest.inventoryFile,
          '--yes',
          '--json',
          '--playbook',
          playbook,
          '--target',
          'pg2',
        ]),
      );
      const gap = longestGap(load.records).gapMs;
      // pgbouncer2 cannot be released nor observed: an operator is needed for it (exit 5), said by name.
      expect(result.exitCode, result.stderr).toBe(5);
      expect(reportOf(result).verified).toBe(
        'pg1 is the only writable primary; pgbouncer -> pg1, pgbouncer2 unreachable',
      );
      process.stderr.write(
        `second pooler frozen: the first pooler's clients waited at most ${Math.round(gap)} ms (pause_timeout 2 s)\n`,
      );
      expect(gap).toBeLessThan(2000 + 2500);
      expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
    } finally {
      process.kill(frozen, 'SIGCONT');
      await stopSandbox(sandbox);
    }
  });
});

describe('promote: without host access to the old primary', () => {
  test('it is fenced read-only, the report says so, and the next switchover leaves it out', async ({ sandbox }) => {
    const inventory = parse(readFileSync(sandbox.manifest.inventoryFile, 'utf8')) as {
      nodes: Array<Record<string, unknown>>;
    };
    delete inventory.nodes[0]!.host_access;
    const file = join(sandbox.dir, 'no-access.yaml');
    await writeFile(file, stringify({ ...inventory, passfile: sandbox.manifest.passfile }));

    const dry = await cli(['promote', '--inventory', file, '--dry-run', '--target', 'pg2']);
    expect(dry.stdout).toMatch(/fence by read-only/);
    expect(dry.stdout).toContain('ALTER SYSTEM SET default_transaction_read_only = on');
    const { value: result, load } = await underLoad(sandbox, () => cli(promoteArgs(file, '--target', 'pg2')));
    expect(result.exitCode, result.stderr).toBe(0);
    const report = reportOf(result);
    expect(report.fenceMethod).toBe('read-only');
    expect(report.oldPrimaryState).toBe('fenced read-only (still running)');
    expect(report.finalLsnSource).toMatch(/flush position after the read-only fence \(weaker/);
    expect(report.leftToDo.join(' ')).toMatch(
      /pg1 is fenced read-only, not a replica: stop it, pg_rewind it against pg2/,
    );
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
    const t = topology(await observe(sandbox));
    expect(t.readOnly).toEqual(['pg1']);
    expect(t.primaries.filter((p) => !t.readOnly.includes(p))).toEqual(['pg2']);
    await expect(sql(nodeConn(sandbox, 'pg1'), 'CREATE TABLE nope (x int)')).rejects.toThrow(/read-only transaction/);

    const next = await cli(promoteArgs(file, '--target', 'pg3'));
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stdout).toMatch(
      /"id":"fenced-primaries","verdict":"warn","message":"pg1 is a former primary fenced read-only/,
    );
    expect(topology(await observe(sandbox)).poolerPointsAt).toBe('pg3');
  });
});
