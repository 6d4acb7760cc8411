/**
 * The rolling restart as a real minor upgrade: a cluster on PostgreSQL 15.17 (from the npm
 * registry, scripts/install-older-minor.sh) moves to Debian's 15.18 under a write load through
 * PgBouncer: replicas first, then the switchover, then the old primary. And a replica that does
 * not come back stops the run before the switchover, the primary untouched.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { postmasterPid, startNode } from '../../src/sandbox/control.js';
import { waitGone } from '../../src/shell/processes.js';
import { longestGap } from '../../src/sandbox/write-load.js';
import { cli, reportOf } from './support/cli.js';
import { nodeConn, observe, settledTopology, sql, topology, underLoad, pauseBudgetMs } from './support/cluster.js';
import { describe, expect, startSandbox, stopSandbox, test, type SandboxFixture } from './support/fixtures.js';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { loadInventory } from '../../src/inventory/load.js';
import { sandboxUp } from '../../src/sandbox/up.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/install-older-minor.sh', import.meta.url));
const OLDER = (await execa('bash', [SCRIPT, '--print-dir'])).stdout.trim();
const NEWER = '/usr/lib/postgresql/15/bin';

const versions = async (
  sandbox: Awaited<ReturnType<typeof startSandbox>>,
  names = sandbox.manifest.nodes.map((n) => n.name),
) =>
  Object.fromEntries(
    await Promise.all(
      names.map(
        async (name) =>
          [
            name,
            Number(
              (await sql(nodeConn(sandbox, name, 'postgres'), "SELECT current_setting('server_version_num') AS v"))[0]!
                .v,
            ),
          ] as const,
      ),
    ),
  );

/** Replicas from a plain `pg_basebackup -R` (their passfile= names no file), replication trusted from loopback. */
async function basebackupCluster(pgBin: string): Promise<SandboxFixture> {
  const parent = await mkdtemp(join(tmpdir(), 'pgh-rr-'));
  await chmod(parent, 0o711);
  const { manifest } = await sandboxUp({ dir: join(parent, 'sb'), replicas: 2, pgBin, replicationAuth: 'trust' });
  return { manifest, inventory: await loadInventory(manifest.inventoryFile), dir: join(parent, 'sb') };
}

describe('rolling-restart: a minor upgrade, 15.17 -> 15.18', () => {
  test('under write load: every node on 15.18, 0 client errors, 0 lost commits, the longest gap about one switchover', async () => {
    const sandbox = await startSandbox(2, 1, 'plain', false, OLDER);
    try {
      expect(await versions(sandbox)).toEqual({ pg1: 150017, pg2: 150017, pg3: 150017 });
      // As after packages upgraded in place: the bin directory the inventory names holds 15.18.
      const inPlace = join(sandbox.dir, 'in-place.yaml');
      await writeFile(
        inPlace,
        (await readFile(sandbox.manifest.inventoryFile, 'utf8')).replaceAll(`bin_dir: ${OLDER}`, `bin_dir: ${NEWER}`),
      );
      const check = await cli(['check', '-i', inPlace]);
      expect(check.stdout).toMatch(
        /pg2: replica, streaming, .*; runs 15\.17, binaries 15\.18 in \/usr\/lib\/postgresql\/15\/bin: restart needed \(pg-handover rolling-restart\)/,
      );
      const dryInPlace = await cli(['switchover', '-i', inPlace, '--dry-run']);
      expect(dryInPlace.stdout).toMatch(
        /warn +binaries +pg2 runs 15\.17, but its binaries in \/usr\/lib\/postgresql\/15\/bin are 15\.18: it needs a restart \(pg-handover rolling-restart\)/,
      );
      const dry = await cli(['rolling-restart', '-i', sandbox.manifest.inventoryFile, '--bin-dir', NEWER, '--dry-run']);
      expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(
        /new-binaries +15\.18 in \/usr\/lib\/postgresql\/15\/bin on every node; to restart: pg2, pg3, pg1 \(primary, after the switchover\)/,
      );

      const started = performance.now();
      const { value: result, load } = await underLoad(
        sandbox,
        () => cli(['rolling-restart', '-i', sandbox.manifest.inventoryFile, '--bin-dir', NEWER, '--yes', '--json']),
        { clients: 8 },
      );
      const totalMs = Math.round(performance.now() - started);
      expect(result.exitCode, result.stderr).toBe(0);
      const report = reportOf(result);
      expect(report.outcome).toBe('succeeded');
      expect(load.acknowledged).toBeGreaterThan(100);
      expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
      const gap = longestGap(load.records).gapMs;
      // The figure is the benchmark's; the promise is the playbook's pause budget.
      expect(gap).toBeLessThan(await pauseBudgetMs('rolling-restart'));
      expect(await versions(sandbox)).toEqual({ pg1: 150018, pg2: 150018, pg3: 150018 });
      const t = await settledTopology(sandbox);
      expect(t.primaries).toEqual(['pg2']);
      expect(t.upstreamOf).toEqual({ pg1: 'pg2', pg3: 'pg2' });
      console.log(
        `rolling restart 15.17 -> 15.18: run ${report.totalMs} ms (${totalMs} ms with the load's settling), write pause ${report.writePauseMs} ms, longest client gap ${Math.round(gap)} ms`,
      );

      // Run again (a re-run CI job): nothing left to do is a success, not a refusal.
      const again = await cli(['rolling-restart', '-i', sandbox.manifest.inventoryFile, '--bin-dir', NEWER, '--yes']);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/NOTHING TO DO: every node already runs 15\.18/);
      // The inventory still says bin_dir 15.17: the running binaries are read from the servers, so no "needs a restart".
      const dryAfter = await cli(['switchover', '-i', sandbox.manifest.inventoryFile, '--dry-run']);
      expect(dryAfter.stdout).not.toMatch(/needs a restart/);
    } finally {
      await stopSandbox(sandbox);
    }
  });

  test('a replica that does not come back: exit 4 before the switchover, the primary untouched; fixed, a second run continues', async () => {
    const sandbox = await startSandbox(2, 1, 'plain', false, OLDER);
    try {
      // pg3 cannot start again: a setting its running server never read.
      const conf = join(sandbox.manifest.nodes[2]!.dataDir, 'postgresql.conf');
      await appendFile(conf, "\nshared_buffers = 'plenty'\n");
      const { value: result, load } = await underLoad(sandbox, () =>
        cli(['rolling-restart', '-i', sandbox.manifest.inventoryFile, '--bin-dir', NEWER, '--yes', '--json']),
      );
      expect(result.exitCode, result.stderr).toBe(4);
      const report = reportOf(result);
      expect(report.error).toMatch(
        /pg3 did not come back on the new binaries: .*stopped before the switchover, pg1 is still the primary/,
      );
      expect(report.steps.find((s: { id: string }) => s.id === '2-restart-replicas').status).toBe('failed');
      expect(report.steps.find((s: { id: string }) => s.id === '5-fence-writes').status).toBe('not run');
      expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
      const t = topology(await observe(sandbox));
      expect(t.primaries).toEqual(['pg1']);
      expect(t.poolerPointsAt).toBe('pg1');
      expect(t.poolerPaused).toBe(false);
      expect(await versions(sandbox, ['pg1', 'pg2'])).toEqual({ pg1: 150017, pg2: 150018 }); // pg3 is down

      // Fixed and started again by hand (on its old binaries), as the report says; the rerun restarts it.
      await appendFile(conf, "\nshared_buffers = '32MB'\n");
      await startNode(sandbox.manifest, 'pg3');
      const rerun = await cli([
        'rolling-restart',
        '-i',
        sandbox.manifest.inventoryFile,
        '--bin-dir',
        NEWER,
        '--yes',
        '--json',
      ]);
      expect(rerun.exitCode, rerun.stderr).toBe(0);
      expect(rerun.stdout).toMatch(/"summary":"pg3 restarted on 15\.18/);
      expect(await versions(sandbox)).toEqual({ pg1: 150018, pg2: 150018, pg3: 150018 });
    } finally {
      await stopSandbox(sandbox);
    }
  });

  test('on a pg_basebackup -R cluster, a replica down during it: exit 8 naming it under LEFT TO DO; back, a rerun restarts only it (no second switchover) and points it at the primary; --all restarts every server on the same version; a rerun exits 0', async () => {
    const sandbox = await basebackupCluster(OLDER);
    try {
      const inventory = sandbox.manifest.inventoryFile;
      const pg3 = postmasterPid(sandbox.manifest, 'pg3')!;
      process.kill(pg3, 'SIGINT');
      await waitGone([pg3], 30_000);
      const { value: first, load } = await underLoad(sandbox, () =>
        cli(['rolling-restart', '-i', inventory, '--bin-dir', NEWER, '--yes', '--json']),
      );
      expect(first.exitCode, first.stderr).toBe(8);
      const report = reportOf(first);
      expect(report.outcome).toBe('degraded');
      expect(report.leftToDo.join('\n')).toMatch(
        /pg3 was down: it still runs the old binaries; once it is back, run `pg-handover rolling-restart` again/,
      );
      expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
      expect(await versions(sandbox, ['pg1', 'pg2'])).toEqual({ pg1: 150018, pg2: 150018 });

      // Back on its old binaries, still pointing at pg1 (now a replica); no slot for it on pg2.
      await startNode(sandbox.manifest, 'pg3');
      const rerun = await cli(['rolling-restart', '-i', inventory, '--bin-dir', NEWER, '--yes', '--json']);
      expect(rerun.exitCode, rerun.stderr).toBe(0);
      const again = reportOf(rerun);
      expect(again.steps.map((s: { id: string }) => s.id)).toEqual(['1-restart-replicas']);
      expect(await versions(sandbox)).toEqual({ pg1: 150018, pg2: 150018, pg3: 150018 });
      const t = await settledTopology(sandbox);
      expect(t.primaries).toEqual(['pg2']);
      expect(t.upstreamOf).toEqual({ pg1: 'pg2', pg3: 'pg2' });

      const nothing = await cli(['rolling-restart', '-i', inventory, '--bin-dir', NEWER, '--yes']);
      expect(nothing.exitCode, nothing.stderr).toBe(0);

      // An OS or library patch: the same version, every server restarted.
      const pids = () => sandbox.manifest.nodes.map((n) => postmasterPid(sandbox.manifest, n.name));
      const before = pids();
      const all = await cli(['rolling-restart', '-i', inventory, '--bin-dir', NEWER, '--all', '--yes', '--json']);
      expect(all.exitCode, all.stderr).toBe(0);
      const after = pids();
      expect(after.every((pid, i) => pid !== undefined && pid !== before[i])).toBe(true);
      const last = await cli(['rolling-restart', '-i', inventory, '--bin-dir', NEWER, '--yes']);
      expect(last.exitCode, last.stderr).toBe(0);
    } finally {
      await stopSandbox(sandbox);
    }
  });
});
